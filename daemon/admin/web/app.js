// yuer web console: plain ES5 (old desktop browsers, phones), no modules, no framework.
// Every request goes to /api/v1 with the token typed in at login (kept in sessionStorage); the
// server decides what this token may see (README "Access control"), the page only shows it.
// An API that answers 404/503 (not built into this yuerd, or its part switched off) shows 「暂无数据」.
(function () {
  'use strict';

  var state = { token: null, who: null, units: {}, round: null, unit: null, trail: [] };

  function $(id) { return document.getElementById(id); }
  function esc(s) {
    return String(s === undefined || s === null ? '' : s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function pad(n) { return n < 10 ? '0' + n : '' + n; }
  function fmtTime(ms) {
    if (!ms) return '—';
    var d = new Date(ms);
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + pad(d.getHours()) + ':' + pad(d.getMinutes());
  }
  function fmtDate(d) { return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()); }
  function unitName(code) { return state.units[code] ? state.units[code] : code; }
  function empty(el, text) { el.innerHTML = '<div class="empty">' + esc(text || '暂无数据') + '</div>'; }

  // One API call. cb(error, body, status): error is null on 2xx, else {status, code, message}.
  function api(method, path, body, cb, raw) {
    var xhr = new XMLHttpRequest();
    xhr.open(method, path, true);
    xhr.setRequestHeader('Authorization', 'Bearer ' + state.token);
    if (body !== null && body !== undefined) xhr.setRequestHeader('Content-Type', 'application/json');
    if (raw) xhr.responseType = 'blob';
    xhr.onreadystatechange = function () {
      if (xhr.readyState !== 4) return;
      var s = xhr.status;
      if (raw && s >= 200 && s < 300) { cb(null, xhr.response, s, xhr); return; }
      var parsed = null;
      if (!raw) { try { parsed = JSON.parse(xhr.responseText); } catch (e) { parsed = null; } }
      if (s >= 200 && s < 300) { cb(null, parsed, s, xhr); return; }
      if (s === 401 && path !== '/api/v1/whoami') { logout('令牌已失效，请重新登录'); return; }
      var err = { status: s, code: '', message: '请求失败（' + s + '）' };
      if (parsed && parsed.error) { err.code = parsed.error.code; err.message = parsed.error.message; }
      cb(err, parsed, s, xhr);
    };
    xhr.send(body === null || body === undefined ? null : JSON.stringify(body));
  }
  // Shows 「暂无数据」 for an API that is absent or refused, else calls render(body).
  function load(path, el, render) {
    api('GET', path, null, function (err, body) {
      if (err) {
        if (err.status === 403) empty(el, '暂无数据（无权查看：' + err.message + '）');
        else if (err.status === 404 || err.status === 503 || err.status === 0) empty(el, '暂无数据');
        else empty(el, '暂无数据（' + err.message + '）');
        return;
      }
      render(body);
    });
  }
  function table(headers, rows) {
    if (!rows.length) return '<div class="empty">暂无数据</div>';
    var h = '<div class="scroll"><table><thead><tr>';
    for (var i = 0; i < headers.length; i++) h += '<th>' + esc(headers[i]) + '</th>';
    h += '</tr></thead><tbody>';
    for (var r = 0; r < rows.length; r++) {
      h += '<tr>';
      for (var c = 0; c < rows[r].length; c++) h += '<td>' + rows[r][c] + '</td>';
      h += '</tr>';
    }
    return h + '</tbody></table></div>';
  }
  // A bar from 0 to `max` filled to `value`, with marks at each of `marks` ({at, text}).
  function bar(value, max, cls, marks) {
    var pct = max > 0 ? Math.min(100, value * 100 / max) : 0;
    var h = '<div class="bar"><div class="fill ' + cls + '" style="width:' + pct.toFixed(1) + '%"></div>';
    for (var i = 0; i < marks.length; i++)
      h += '<div class="mark" style="left:' + (marks[i].at * 100 / max).toFixed(1) + '%"><span>' + esc(marks[i].text) + '</span></div>';
    return h + '</div>';
  }

  // ---- login -------------------------------------------------------------------------------
  var roleNames = { superuser: '总管理员', province_admin: '省级管理员', city_admin: '市级管理员',
                    county_admin: '县级管理员', township_coordinator: '乡镇协调员', viewer: '只读' };
  function login(token, done) {
    state.token = token;
    api('GET', '/api/v1/whoami', null, function (err, who) {
      if (err) { state.token = null; done(err.status === 401 ? '令牌不正确' : (err.status === 429 ? '错误次数过多，请稍后再试' : err.message)); return; }
      state.who = who;
      try { window.sessionStorage.setItem('yuer_token', token); } catch (e) { /* private mode */ }
      $('who').innerHTML = esc(who.name) + ' · ' + esc(roleNames[who.role] || who.role) + (who.unit ? ' · ' + esc(who.unit) : '');
      $('nav').className = '';
      if (!who.may_manage_tokens) $('nav-tokens').className = 'hidden';
      loadUnits();
      done(null);
    });
  }
  function logout(message) {
    state.token = null; state.who = null;
    try { window.sessionStorage.removeItem('yuer_token'); } catch (e) { /* ignore */ }
    $('who').innerHTML = '';
    $('nav').className = 'hidden';
    show('login');
    if (message) { $('login-error').innerHTML = esc(message); $('login-error').className = 'error'; }
  }
  function loadUnits() {
    api('GET', '/api/v1/org', null, function (err, body) {
      if (err || !body || !body.units) return;
      for (var i = 0; i < body.units.length; i++) state.units[body.units[i].code] = body.units[i].name;
    });
  }

  // ---- pages -------------------------------------------------------------------------------
  var pages = ['login', 'dashboard', 'schedules', 'survey', 'tokens'];
  function show(name) {
    for (var i = 0; i < pages.length; i++) {
      $('page-' + pages[i]).className = pages[i] === name ? 'page' : 'page hidden';
      var link = $('nav-' + pages[i]);
      if (link && link.className !== 'hidden') link.className = pages[i] === name ? 'active' : '';
    }
  }
  function route() {
    var name = (window.location.hash || '#dashboard').substring(1);
    if (name === 'logout') { logout(); window.location.hash = ''; return; }
    if (!state.token) { show('login'); return; }
    if (name === 'login' || pages.indexOf(name) < 0) name = 'dashboard';
    show(name);
    if (name === 'dashboard') dashboard();
    else if (name === 'schedules') schedules();
    else if (name === 'survey') survey();
    else if (name === 'tokens') tokens();
  }

  var routeNames = { robot: '群机器人', group_task: '客户群群发', kf: '微信客服', app: '应用消息', appchat: '应用群聊', auto: '自动' };
  function dashboard() {
    var today = new Date(); today.setHours(0, 0, 0, 0);
    load('/api/v1/pushes?since_ms=' + today.getTime() + '&limit=1000', $('dash-pushes'), function (body) {
      var by = {}, failed = [], i, p, routes = [];
      for (i = 0; i < body.pushes.length; i++) {
        p = body.pushes[i];
        if (!by[p.route]) { by[p.route] = { total: 0, sent: 0, failed: 0 }; routes.push(p.route); }
        by[p.route].total++;
        if (p.state === 'sent' || p.state === 'done') by[p.route].sent++;
        if (p.state === 'failed' || p.state === 'expired') { by[p.route].failed++; failed.push(p); }
      }
      var rows = [];
      for (i = 0; i < routes.length; i++)
        rows.push([esc(routeNames[routes[i]] || routes[i]), by[routes[i]].total, by[routes[i]].sent, by[routes[i]].failed]);
      $('dash-pushes').innerHTML = table(['路由', '今日推送', '已送达', '失败'], rows);
    });
    if (state.who.role === 'superuser') {
      load('/api/v1/outbox?state=failed&limit=50', $('dash-failures'), function (body) {
        var rows = [];
        for (var i = 0; i < body.items.length; i++) {
          var r = body.items[i];
          rows.push([esc(routeNames[r.route] || r.route), esc(r.target), esc(r.last_errcode), esc(r.last_reason), fmtTime(r.updated_ms)]);
        }
        $('dash-failures').innerHTML = table(['路由', '对象', '错误码', '原因', '时间'], rows);
      });
      load('/api/v1/group_tasks?state=waiting', $('dash-tasks'), function (body) {
        var list = body.tasks || body.items || [], by = {}, owners = [], rows = [];
        for (var i = 0; i < list.length; i++) {
          var o = list[i].owner || '?';
          if (!by[o]) { by[o] = 0; owners.push(o); }
          by[o]++;
        }
        for (i = 0; i < owners.length; i++) rows.push([esc(owners[i]), by[owners[i]]]);
        $('dash-tasks').innerHTML = table(['协调员（群主）', '待确认'], rows);
      });
    } else {
      empty($('dash-failures'), '暂无数据（仅总管理员可见发送队列）');
      empty($('dash-tasks'), '暂无数据（仅总管理员可见）');
    }
    load('/api/v1/groups?kind=parent', $('dash-groups'), function (body) {
      var h = '', list = body.groups || [];
      for (var i = 0; i < list.length; i++) {
        var g = list[i], soft = g.soft_cap || 350, hard = g.hard_cap || 400, max = Math.max(hard * 1.1, g.members || 0);
        var cls = g.members >= hard ? 'full' : (g.members >= soft ? 'warn' : '');
        h += '<div class="barrow group" data-unit="' + esc(g.unit_code) + '"><span class="label">' + esc(g.name) + '</span>' +
             '<span class="num">' + esc(g.members) + ' 人</span>' +
             bar(g.members || 0, max, cls, [{ at: soft, text: soft }, { at: hard, text: hard }]) + '</div>';
      }
      $('dash-groups').innerHTML = h || '<div class="empty">暂无数据</div>';
    });
    load('/api/v1/join_ways', $('dash-qr'), function (body) {
      var h = '', list = body.join_ways || [];
      for (var i = 0; i < list.length; i++) {
        var w = list[i];
        h += '<div class="qr">' + (w.qr_code ? '<img alt="入群二维码" src="' + esc(w.qr_code) + '">' : '') +
             esc(unitName(w.unit_code)) + '<br>' + (w.qr_code ? '<a href="' + esc(w.qr_code) + '" target="_blank">打开二维码</a>' : '尚未生成') + '</div>';
      }
      $('dash-qr').innerHTML = h || '<div class="empty">暂无数据</div>';
      // A QR image that cannot load (offline, or the sandbox's made-up URL) leaves just the link.
      var imgs = $('dash-qr').getElementsByTagName('img');
      for (i = 0; i < imgs.length; i++) imgs[i].onerror = function () { this.style.display = 'none'; };
    });
  }

  var timeKinds = { daily: '每天', weekly: '每周', monthly: '每月', cron: '自定义' };
  function schedules() {
    load('/api/v1/schedules', $('sched-list'), function (body) {
      var rows = [], list = body.schedules || [];
      for (var i = 0; i < list.length; i++) {
        var s = list[i], t = s.time || {}, units = (s.audience && s.audience.units) || [], names = [];
        for (var u = 0; u < units.length; u++) names.push(unitName(units[u]));
        var paused = s.state === 'paused';
        rows.push([esc(s.name), '<span class="state-' + esc(s.state) + '">' + (paused ? '已暂停' : '进行中') + '</span>',
                   esc((timeKinds[t.kind] || t.kind || '') + ' ' + (t.at || '')), esc(names.join('、')),
                   fmtTime(s.next_at_ms),
                   '<button type="button" class="sched-toggle" data-id="' + esc(s.id) + '" data-action="' + (paused ? 'resume' : 'pause') + '">' +
                   (paused ? '恢复' : '暂停') + '</button>']);
      }
      $('sched-list').innerHTML = table(['名称', '状态', '时间', '对象', '下次发送', ''], rows);
      var buttons = $('sched-list').getElementsByTagName('button');
      for (i = 0; i < buttons.length; i++) buttons[i].onclick = toggleSchedule;
    });
    var from = new Date(), to = new Date();
    to.setDate(to.getDate() + 7);
    load('/api/v1/schedules/preview?from=' + fmtDate(from) + '&to=' + fmtDate(to), $('sched-preview'), function (body) {
      var rows = [], list = body.items || [];
      for (var i = 0; i < list.length && i < 200; i++) {
        var it = list[i];
        rows.push([esc(it.at_local || fmtTime(it.at_ms)), esc(it.group_name || it.chat_id), esc(it.lesson_title || it.lesson_id),
                   esc(routeNames[it.route] || it.route)]);
      }
      $('sched-preview').innerHTML = table(['时间', '群', '课程', '路由'], rows);
    });
  }
  function toggleSchedule() {
    var btn = this;
    btn.disabled = true;
    api('POST', '/api/v1/schedules/' + encodeURIComponent(btn.getAttribute('data-id')) + '/' + btn.getAttribute('data-action'), {}, function (err) {
      if (err) { btn.disabled = false; window.alert(err.message); return; }
      schedules();
    });
  }

  // ---- survey ------------------------------------------------------------------------------
  var levelNames = { 1: '省', 2: '市', 3: '县', 4: '乡镇', 5: '村' };
  function survey() {
    emptySurvey();  // until a round is loaded
    load('/api/v1/surveys', $('survey-rounds'), function (body) {
      var rounds = body.rounds || [], h = '<div class="rounds">';
      if (!rounds.length) { empty($('survey-rounds')); emptySurvey(); return; }
      for (var i = 0; i < rounds.length; i++) {
        var r = rounds[i];
        h += '<button type="button" class="plain round" data-id="' + esc(r.id) + '">' + esc(r.name || r.survey) + '（' +
             (r.state === 'open' ? '进行中' : '已结束') + '，' + esc(r.responded) + '/' + esc(r.eligible) + '）</button>';
      }
      $('survey-rounds').innerHTML = h + '</div>';
      var buttons = $('survey-rounds').getElementsByTagName('button');
      for (i = 0; i < buttons.length; i++) buttons[i].onclick = function () { pickRound(this.getAttribute('data-id')); };
      if (!state.round) state.round = String(rounds[0].id);
      pickRound(state.round);
    });
  }
  function emptySurvey() {
    empty($('survey-coverage')); empty($('survey-missing')); empty($('survey-indicators'));
  }
  function pickRound(id) {
    state.round = id; state.unit = null; state.trail = [];
    var buttons = $('survey-rounds').getElementsByTagName('button');
    for (var i = 0; i < buttons.length; i++) buttons[i].className = buttons[i].getAttribute('data-id') === id ? 'plain round active' : 'plain round';
    coverage(null);
  }
  function pctClass(u) {
    var t = u.target_percent || 90;
    return u.percent >= t ? 'good' : (u.percent >= 80 ? 'fair' : 'poor');
  }
  function coverage(unit) {
    var path = '/api/v1/surveys/' + encodeURIComponent(state.round) + '/coverage' + (unit ? '?unit=' + unit : '');
    load(path, $('survey-coverage'), function (body) {
      var u = body.unit, kids = body.children || [], h = '';
      state.unit = u.code;
      // Breadcrumbs: the units drilled through.
      var at = -1;
      for (var t = 0; t < state.trail.length; t++) if (state.trail[t].code === u.code) at = t;
      if (at >= 0) state.trail = state.trail.slice(0, at + 1); else state.trail.push({ code: u.code, name: u.name });
      var crumbs = [];
      for (t = 0; t < state.trail.length; t++)
        crumbs.push(t === state.trail.length - 1 ? esc(state.trail[t].name) : '<a data-code="' + esc(state.trail[t].code) + '">' + esc(state.trail[t].name) + '</a>');
      $('survey-crumbs').innerHTML = crumbs.join(' › ');
      var links = $('survey-crumbs').getElementsByTagName('a');
      for (t = 0; t < links.length; t++) links[t].onclick = function () { coverage(this.getAttribute('data-code')); };
      var rows = [u].concat(kids);
      for (var i = 0; i < rows.length; i++) {
        var c = rows[i], canDrill = i > 0 && c.level < 5;
        h += '<div class="barrow cov" data-code="' + esc(c.code) + '"><span class="label">' +
             (canDrill ? '<a class="drill" data-code="' + esc(c.code) + '">' + esc(c.name) + '</a>' : '<b>' + esc(c.name) + '</b>') +
             ' <small>' + esc(levelNames[c.level] || '') + '</small></span><span class="num">' + esc(c.responded) + '/' + esc(c.eligible) +
             ' · ' + (c.percent || 0).toFixed(1) + ' %</span>' +
             bar(c.percent || 0, 100, pctClass(c), [{ at: 80, text: '80%' }, { at: 90, text: '90%' }]) + '</div>';
      }
      $('survey-coverage').innerHTML = h;
      var drills = $('survey-coverage').getElementsByTagName('a');
      for (i = 0; i < drills.length; i++) drills[i].onclick = function () { coverage(this.getAttribute('data-code')); };
      missing(u);
      indicators(u.code);
    });
  }
  function missing(u) {
    if (u.level < 4) { empty($('survey-missing'), '选择一个乡镇或村查看名单'); return; }
    load('/api/v1/surveys/' + encodeURIComponent(state.round) + '/missing?unit=' + u.code, $('survey-missing'), function (body) {
      var rows = [], list = body.families || [];
      for (var i = 0; i < list.length; i++)
        rows.push([esc(list[i].family_id), esc(unitName(list[i].village) || list[i].village), esc(list[i].phone_masked)]);
      $('survey-missing').innerHTML = table(['家庭编号', '村', '电话'], rows);
    });
  }
  function indicators(code) {
    load('/api/v1/surveys/' + encodeURIComponent(state.round) + '/indicators?unit=' + code, $('survey-indicators'), function (body) {
      var rows = [], list = body.indicators || [];
      for (var i = 0; i < list.length; i++) {
        var d = list[i];
        rows.push([esc(d.name), esc(d.numerator) + '/' + esc(d.denominator), (d.percent === null || d.percent === undefined) ? '—' : d.percent.toFixed(1) + ' %']);
      }
      $('survey-indicators').innerHTML = table(['指标', '人数', '比例'], rows);
    });
  }
  function exportFile(format) {
    var status = $('export-status');
    if (!state.round) { status.innerHTML = '暂无数据'; return; }
    var path = '/api/v1/surveys/' + encodeURIComponent(state.round) + '/export?format=' + format +
               (state.unit ? '&unit=' + state.unit : '') + ($('export-identifying').checked ? '&identifying=1' : '');
    status.innerHTML = '正在导出…';
    api('GET', path, null, function (err, blob, s, xhr) {
      if (err) { status.innerHTML = '<span class="error">导出失败：' + esc(err.status === 404 || err.status === 503 ? '暂无数据' : (err.status === 403 ? '无权导出（可识别个人的信息需县级管理员或乡镇协调员权限，且只能导出本单位）' : err.message)) + '</span>'; return; }
      var name = 'survey-' + state.round + '.' + format, cd = xhr.getResponseHeader('Content-Disposition') || '';
      var m = /filename="?([^";]+)"?/.exec(cd);
      if (m) name = m[1];
      if (window.navigator.msSaveBlob) window.navigator.msSaveBlob(blob, name);
      else {
        var a = document.createElement('a');
        a.href = window.URL.createObjectURL(blob);
        a.download = name;
        document.body.appendChild(a);
        a.click();
        document.body.removeChild(a);
      }
      status.innerHTML = '已下载 <span id="export-name">' + esc(name) + '</span>（<span id="export-bytes">' + blob.size + '</span> 字节）';
    }, true);
  }

  // ---- tokens and audit --------------------------------------------------------------------
  function tokens() {
    load('/api/v1/tokens', $('tokens-list'), function (body) {
      var rows = [], list = body.tokens || [];
      for (var i = 0; i < list.length; i++) {
        var t = list[i];
        rows.push([esc(t.name), esc(roleNames[t.role] || t.role), esc(unitName(t.unit)), t.state === 'active' ? '有效' : '已吊销',
                   t.state === 'active' ? '<button type="button" class="plain" data-id="' + esc(t.id) + '">吊销</button>' : '']);
      }
      $('tokens-list').innerHTML = table(['名称', '角色', '单位', '状态', ''], rows);
      var buttons = $('tokens-list').getElementsByTagName('button');
      for (i = 0; i < buttons.length; i++)
        buttons[i].onclick = function () {
          if (!window.confirm('确定吊销这个令牌？')) return;
          api('POST', '/api/v1/tokens/' + this.getAttribute('data-id') + '/revoke', {}, function (err) {
            if (err) window.alert(err.message);
            tokens();
          });
        };
    });
    load('/api/v1/audit?limit=100', $('audit-list'), function (body) {
      var rows = [], list = body.entries || [];
      for (var i = 0; i < list.length; i++) {
        var e = list[i];
        rows.push([fmtTime(e.at_ms), esc(e.actor), esc(e.method + ' ' + e.path + (e.query ? '?' + e.query : '')), esc(e.status)]);
      }
      $('audit-list').innerHTML = table(['时间', '谁', '操作', '结果'], rows);
    });
  }

  // ---- start -------------------------------------------------------------------------------
  $('login-form').onsubmit = function (ev) {
    if (ev && ev.preventDefault) ev.preventDefault();
    var token = $('login-token').value.replace(/^\s+|\s+$/g, '');
    if (!token) return false;
    login(token, function (problem) {
      if (problem) { $('login-error').innerHTML = esc(problem); $('login-error').className = 'error'; return; }
      $('login-error').className = 'error hidden';
      $('login-token').value = '';
      var h = window.location.hash;
      if (!h || h === '#login' || h === '#logout') window.location.hash = '#dashboard';  // hashchange routes
      else route();
    });
    return false;
  };
  $('token-form').onsubmit = function (ev) {
    if (ev && ev.preventDefault) ev.preventDefault();
    api('POST', '/api/v1/tokens', { name: $('token-name').value, role: $('token-role').value, unit: $('token-unit').value },
        function (err, body) {
          var el = $('token-secret');
          el.className = 'secret';
          el.innerHTML = err ? '<span class="error">' + esc(err.message) + '</span>'
                             : '新令牌（只显示这一次，请复制后交给使用者）：<br><b id="new-secret">' + esc(body.secret) + '</b>';
          tokens();
        });
    return false;
  };
  $('export-csv').onclick = function () { exportFile('csv'); };
  $('export-xlsx').onclick = function () { exportFile('xlsx'); };
  window.onhashchange = route;
  var saved = null;
  try { saved = window.sessionStorage.getItem('yuer_token'); } catch (e) { saved = null; }
  if (saved) login(saved, function (problem) { if (problem) logout(); else route(); });
  else route();
})();
