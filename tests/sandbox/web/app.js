// The sandbox's chat view: polls the control API and shows what reached each chat, as a phone
// user would see it. Plain browser JavaScript, no build step.
"use strict";

const POLL_MS = 1500;
const CHANNEL_LABEL = { webhook: "群机器人", app: "应用消息", appchat: "应用群消息", groupmsg: "企业群发",
                        kf: "微信客服", aibot: "智能机器人", parent: "家长" };
let fixture = null;
let selected = null;  // {kind, id, title}
let lastSig = "";

const $ = (id) => document.getElementById(id);

function escapeHtml(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

// WeCom markdown subset: headings, bold, links, inline code, quotes, lists and <font color="info|comment|warning">.
function renderMarkdown(src) {
  const lines = escapeHtml(src).split("\n");
  const inline = (t) => t
    .replace(/&lt;font color=&quot;(info|comment|warning)&quot;&gt;(.*?)&lt;\/font&gt;/g, '<span class="font-$1">$2</span>')
    .replace(/\*\*(.+?)\*\*/g, "<b>$1</b>")
    .replace(/`([^`]+)`/g, "<code>$1</code>")
    .replace(/\[([^\]]+)\]\((https?:\/\/[^)\s]+)\)/g, '<a href="$2" target="_blank" rel="noopener">$1</a>');
  return lines.map((l) => {
    const h = l.match(/^(#{1,6})\s+(.*)$/);
    if (h) return `<h${Math.min(h[1].length, 4)}>${inline(h[2])}</h${Math.min(h[1].length, 4)}>`;
    if (l.startsWith("&gt; ")) return `<blockquote>${inline(l.slice(5))}</blockquote>`;
    if (/^\s*[-*]\s+/.test(l)) return `<p>• ${inline(l.replace(/^\s*[-*]\s+/, ""))}</p>`;
    return l.trim() === "" ? "" : `<p>${inline(l)}</p>`;
  }).join("");
}

function renderCard(c) {
  const title = c.main_title?.title ?? c.title ?? "";
  const desc = c.main_title?.desc ?? c.sub_title_text ?? c.description ?? "";
  const buttons = (c.button_list ?? []).map((b) => `<button type="button" disabled>${escapeHtml(b.text)}</button>`).join("");
  return `<div class="card"><div class="title">${escapeHtml(title)}</div><div>${escapeHtml(desc)}</div>` +
         (buttons ? `<div class="buttons">${buttons}</div>` : "") + "</div>";
}

function renderMessage(type, m) {
  m = m ?? {};
  switch (type) {
    case "text": return `<p>${escapeHtml(m.content).replace(/\n/g, "<br>")}</p>`;
    case "markdown": case "markdown_v2": return renderMarkdown(m.content ?? "");
    case "news": case "mpnews": case "link":
      return (m.articles ?? [m]).map((a) => `<div class="card"><div class="title">${escapeHtml(a.title)}</div>` +
        `<div>${escapeHtml(a.description ?? a.desc ?? "")}</div></div>`).join("");
    case "textcard": return `<div class="card"><div class="title">${escapeHtml(m.title)}</div><div>${escapeHtml(m.description)}</div></div>`;
    case "template_card": case "update_template_card": return renderCard(m);
    case "update_button": return `<p>卡片按钮已更新为「${escapeHtml(m.replace_name)}」</p>`;
    case "image": return "<p>[图片]</p>";
    case "file": return "<p>[文件]</p>";
    case "voice": return "<p>[语音]</p>";
    case "video": return "<p>[视频]</p>";
    case "msgmenu": {
      const items = (m.list ?? []).map((i) => escapeHtml(i.click?.content ?? i.text?.content ?? "")).join("<br>");
      return `<p>${escapeHtml(m.head_content ?? "")}</p><p>${items}</p><p>${escapeHtml(m.tail_content ?? "")}</p>`;
    }
    default: return `<p>[${escapeHtml(type)}]</p>`;
  }
}

function timeText(ms) {
  return new Date(ms).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });
}

async function getJson(path) {
  const r = await fetch(path);
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

async function postJson(path, body) {
  const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j?.error?.message ?? `HTTP ${r.status}`);
  return j;
}

// Conversations: internal groups, customer groups, members' app chats, kf chats.
function conversations(state, messages) {
  const out = [];
  for (const g of fixture.internal_groups ?? [])
    out.push({ section: "管理群（内部群）", kind: "chat", id: g.chat_id, title: g.name || g.chat_id });
  const groups = state.customer_groups?.groups ?? fixture.customer_groups ?? [];
  for (const g of groups) {
    const n = g.member_count ?? g.members?.length ?? 0;
    out.push({ section: "家长群（客户群）", kind: "chat", id: g.chat_id, title: g.name || g.chat_id, members: n,
               cap: g.member_cap || 400 });
  }
  const users = new Map();
  for (const m of messages)
    if (m.userid && (m.channel === "app")) users.set(m.userid, "app");
  for (const [uid] of users) out.push({ section: "应用单聊", kind: "user", id: uid, title: uid, channel: "app" });
  for (const c of state.kf?.conversations ?? [])
    out.push({ section: "微信客服（家长单聊）", kind: "kf", id: `${c.open_kfid}/${c.external_userid}`,
               title: c.name || c.external_userid, open_kfid: c.open_kfid, external_userid: c.external_userid,
               count: (c.messages ?? []).length });
  return out;
}

function renderChats(list, messages) {
  const counts = new Map();
  for (const m of messages) {
    const key = m.chat_id ? `chat:${m.chat_id}` : `${m.channel === "kf" ? "kf" : "user"}:${m.userid}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const nav = $("chats");
  nav.textContent = "";
  let section = "";
  for (const c of list) {
    if (c.section !== section) {
      section = c.section;
      const h = document.createElement("h2");
      h.textContent = section;
      nav.appendChild(h);
    }
    const b = document.createElement("button");
    b.type = "button";
    if (selected && selected.kind === c.kind && selected.id === c.id) b.className = "active";
    const n = c.count ?? counts.get(`${c.kind}:${c.id}`) ?? 0;
    let cap = "";
    if (c.members !== undefined) {
      // The programme's caps: warn at 350, stop adding at 400 (or the group's own cap when lower).
      const hard = Math.min(c.cap, 400);
      const pct = Math.min(100, (c.members / hard) * 100);
      const cls = c.members >= hard ? "full" : c.members >= 350 ? "warn" : "";
      cap = `<span class="cap" title="${c.members}/${hard} 人（350 提醒）"><i class="${cls}" style="width:${pct}%"></i></span>`;
    }
    b.innerHTML = `<span>${escapeHtml(c.title)}${c.members !== undefined ? ` <span class="count">${c.members}人</span>` : ""}${cap}</span>` +
                  `<span class="count">${n || ""}</span>`;
    b.addEventListener("click", () => { selected = c; lastSig = ""; refresh(); });
    nav.appendChild(b);
  }
  // A person plays a new parent who opens the kf link and says hello.
  const start = document.createElement("button");
  start.type = "button";
  start.className = "link";
  start.textContent = "＋ 以新家长身份联系客服";
  start.addEventListener("click", () => postJson("/_sandbox/kf/write", { text: "你好" })
    .then((r) => { lastSig = ""; selected = null; refresh(); return r; }).catch((e) => alert(e.message)));
  nav.appendChild(start);
}

// A kf conversation's messages in the shape of deliveries: the parent's own ("in") on the right.
function kfMessages(state) {
  const c = (state.kf?.conversations ?? []).find((x) => `${x.open_kfid}/${x.external_userid}` === selected.id);
  return (c?.messages ?? []).filter((m) => m.dir !== "event").map((m, i) => ({
    seq: i + 1, time_ms: m.time_ms, channel: "kf", msgtype: m.msgtype, message: m.content,
    from: m.dir === "in" ? (c.name || c.external_userid) : "", dropped: !!m.failed }));
}

function renderMessages(messages, state) {
  const ol = $("messages");
  if (!selected) { ol.textContent = ""; return; }
  $("chat-title").textContent = selected.title;
  $("compose").hidden = selected.kind !== "kf";
  const mine = selected.kind === "kf" ? kfMessages(state)
    : messages.filter((m) => selected.kind === "chat" ? m.chat_id === selected.id : m.userid === selected.id && m.channel === "app");
  const sig = `${selected.kind}:${selected.id}:${mine.length}:${mine.at(-1)?.seq ?? 0}`;
  if (sig === lastSig) return;
  lastSig = sig;
  const atBottom = ol.scrollHeight - ol.scrollTop - ol.clientHeight < 40;
  ol.innerHTML = mine.map((m) => {
    const who = m.from ? `家长 ${m.from}` : (CHANNEL_LABEL[m.channel] ?? m.channel);
    const cls = [m.from ? "mine" : "", m.dropped ? "dropped" : ""].join(" ");
    return `<li class="${cls}"><div class="meta">${escapeHtml(who)} · ${timeText(m.time_ms)}` +
           `${m.dropped ? ' <span class="badge">超限未送达</span>' : ""}</div>` +
           `<div class="bubble">${renderMessage(m.msgtype, m.message)}</div></li>`;
  }).join("");
  if (atBottom || mine.length < 50) ol.scrollTop = ol.scrollHeight;
}

// One entry per (task, owner) still waiting for the owner's tap.
function pendingTasks(state) {
  const out = [];
  for (const t of state.group_msg?.tasks ?? []) {
    if (t.cancelled) continue;
    for (const s of t.senders ?? [])
      if (s.state === "pending") out.push({ msgid: t.msgid, sender: s.userid, create_time: t.create_time,
                                            content: t.text?.content ?? "", attachments: (t.attachments ?? []).length,
                                            groups: (s.targets ?? []).map((x) => x.name || x.chat_id || x.external_userid) });
  }
  return out;
}

function renderTasks(state) {
  const aside = $("tasks");
  const tasks = pendingTasks(state);
  aside.innerHTML = "<h2>待群主确认的群发</h2>" + (tasks.length === 0 ? '<p class="empty">暂无</p>' : "");
  for (const t of tasks) {
    const div = document.createElement("div");
    div.className = "task";
    div.innerHTML = `<div class="who">群主 ${escapeHtml(t.sender)} · ${t.groups.length} 个群 · ` +
                    `${t.create_time ? timeText(t.create_time * 1000) : ""}</div>` +
                    `<div>${escapeHtml(t.content.slice(0, 300))}${t.attachments ? `（附件 ${t.attachments} 个）` : ""}</div>` +
                    `<div class="who">${escapeHtml(t.groups.join("、"))}</div>` +
                    `<div class="actions"><button type="button">确认发送</button><button type="button" class="secondary">忽略</button></div>`;
    const [confirm, ignore] = div.querySelectorAll("button");
    const act = (what) => postJson(`/_sandbox/group_msg/${what}`, { msgid: t.msgid, sender: t.sender })
      .then(refresh).catch((e) => alert(e.message));
    confirm.addEventListener("click", () => act("confirm"));
    ignore.addEventListener("click", () => act("ignore"));
    aside.appendChild(div);
  }
}

async function refresh() {
  try {
    if (!fixture) {
      fixture = await getJson("/_sandbox/fixture");
      $("corp").textContent = fixture.corp?.name ?? fixture.corp_name ?? "";
    }
    const [clock, msgs, state] = await Promise.all([getJson("/_sandbox/clock"), getJson("/_sandbox/messages"),
                                                    getJson("/_sandbox/state")]);
    $("clock").textContent = timeText(clock.unix_ms);
    $("frozen").hidden = !clock.frozen;
    const messages = msgs.messages ?? [];
    renderChats(conversations(state, messages), messages);
    renderMessages(messages, state);
    renderTasks(state);
  } catch (e) {
    $("chat-title").textContent = `无法连接沙箱：${e.message}`;
  }
}

$("compose").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const input = $("compose-text");
  const text = input.value.trim();
  if (!text || !selected) return;
  try {
    await postJson("/_sandbox/kf/write", { open_kfid: selected.open_kfid, external_userid: selected.external_userid, text });
    input.value = "";
    $("compose-error").hidden = true;
    refresh();
  } catch (e) {
    $("compose-error").textContent = `发送失败：${e.message}`;
    $("compose-error").hidden = false;
  }
});

refresh();
setInterval(refresh, POLL_MS);
