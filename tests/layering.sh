#!/usr/bin/env bash
# Checks every `#include "…"` of the project against the dependency table in daemon/README.md
# (STYLE D1): a folder may include only the folders listed for it. Prints each violation.
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A allowed=(
  [daemon/base]="daemon/base"
  [daemon/model]="daemon/base daemon/model"
  [daemon/net]="daemon/base daemon/net"
  [daemon/store]="daemon/base daemon/model daemon/store"
  [daemon/inbox]="daemon/base daemon/model daemon/store daemon/inbox"
  [daemon/outbox]="daemon/base daemon/model daemon/store daemon/outbox"
  [daemon/group_task]="daemon/base daemon/model daemon/store daemon/group_task"
  [daemon/org]="daemon/base daemon/model daemon/store daemon/org"
  [daemon/groups]="daemon/base daemon/model daemon/store daemon/groups"
  [daemon/survey]="daemon/base daemon/model daemon/store daemon/survey"
  [daemon/survey_service]="daemon/base daemon/model daemon/store daemon/survey daemon/survey_service"
  [daemon/lessons]="daemon/base daemon/model daemon/lessons"
  [daemon/scheduler]="daemon/base daemon/model daemon/store daemon/lessons daemon/scheduler"
  [daemon/admin]="daemon/base daemon/model daemon/net daemon/store daemon/outbox daemon/group_task daemon/org daemon/groups daemon/lessons daemon/scheduler daemon/survey daemon/survey_service daemon/admin"
  [adapters/wecom]="daemon/base daemon/model daemon/net adapters/wecom"
  [adapters/app]="daemon/base daemon/model daemon/net adapters/wecom adapters/app"
  [adapters/aibot]="daemon/base daemon/model daemon/net adapters/wecom adapters/aibot"
  [adapters/robot]="daemon/base daemon/model daemon/net adapters/wecom adapters/robot"
  [adapters/group_task]="daemon/base daemon/model daemon/net adapters/wecom adapters/group_task"
  [adapters/customer_group]="daemon/base daemon/model daemon/net adapters/wecom adapters/customer_group"
  # kf keeps its cursor and windows through daemon/store/kf_store.h (adapters/kf/README.md says why).
  [adapters/kf]="daemon/base daemon/model daemon/net daemon/store adapters/wecom adapters/kf"
  [adapters]="daemon/base daemon/model daemon/net adapters"
  [daemon/yuerctl]="daemon/base daemon/model daemon/net daemon/store daemon/yuerctl"
)
status=0
for folder in "${!allowed[@]}"; do
  if [[ $folder == adapters ]]; then files=(adapters/registry.h adapters/registry.cpp); else
    mapfile -t files < <(find "$folder" -maxdepth 1 -name '*.h' -o -maxdepth 1 -name '*.cpp' | grep -v '_test.cpp$' || true)
  fi
  for f in "${files[@]}"; do
    [[ -f $f ]] || continue
    while IFS= read -r inc; do
      dir=$(dirname "$inc")
      ok=0
      for a in ${allowed[$folder]}; do
        [[ $dir == "$a" || ($folder == adapters && $dir == adapters/*) ]] && ok=1
      done
      if ((!ok)); then
        echo "layering: $f includes \"$inc\" (not allowed for $folder)"
        status=1
      fi
    done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
  done
done
# The core never names an adapter, except the daemon binary through adapters/registry.h.
if grep -rn '#include "adapters/' daemon --include='*.h' --include='*.cpp' | grep -v '^daemon/yuerd/.*adapters/registry.h'; then
  echo "layering: only daemon/yuerd may include adapters/registry.h"
  status=1
fi
exit $status
