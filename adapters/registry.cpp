// filled by the registry work
