/* The live tick's page side: one clientside callback polls GET /api/tick and applies the answer.
   Contract: dashapp/tick/__init__.py; the outputs are registered in dashapp/tick/page.py. */
(function () {
  "use strict";
  var TICK_URL = "/api/tick";
  var TIMEOUT_MS = 15000; // a poll never holds the gate longer than this
  var latest = 0; // the newest poll: only its end reopens the gate (a view change can start one early)

  // The Interval is disabled while a poll is in flight (the poll-gate store, read by the
  // intervalDisabled callback): Dash drops the result of a callback run superseded by a newer one,
  // so a poll that outlived the interval would otherwise be thrown away again and again.
  function setBusy(on) {
    var dc = window.dash_clientside;
    if (dc && dc.set_props) { dc.set_props("poll-gate", {data: {hidden: document.hidden, busy: on}}); }
  }

  // The session is gone (logout, revocation, expiry): say so instead of silently freezing.
  function showExpired() {
    if (document.getElementById("session-expired")) { return; }
    var box = document.createElement("div");
    box.id = "session-expired";
    box.className = "session-expired";
    box.setAttribute("role", "alert");
    box.appendChild(document.createTextNode("Session expired \u2014 "));
    var link = document.createElement("a");
    link.href = "/login?next=" + encodeURIComponent(window.location.pathname);
    link.textContent = "log in again";
    box.appendChild(link);
    document.body.appendChild(box);
  }

  function query(view, since, viewChanged) {
    var v = view || {};
    var parts = [
      "window=" + ([5, 15, 60].indexOf(v.window_min) === -1 ? 5 : v.window_min),
      "paused=" + (v.paused ? 1 : 0),
      "view=" + (viewChanged ? 1 : 0)
    ];
    if (since && typeof since === "object") { parts.push("since=" + encodeURIComponent(JSON.stringify(since))); }
    return TICK_URL + "?" + parts.join("&");
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    tick: {
      // Inputs: refresh-interval.n_intervals, view-state.data; State: tick-state.data (the cursors).
      // Returns a promise of one value per output: the answer's value for "<id>.<property>", or
      // no_update for every property it does not name. Nothing changed or a failure: no update.
      poll: function (_n, view, since) {
        var dc = window.dash_clientside;
        var ctx = dc.callback_context; // read now: the renderer deletes it when this function returns
        var outputs = ctx.outputs_list || [];
        var viewChanged = (ctx.triggered || []).some(function (t) { return t.prop_id === "view-state.data"; });
        var abort = new AbortController();
        var timer = setTimeout(function () { abort.abort(); }, TIMEOUT_MS);
        var mine = ++latest;
        setBusy(true);
        var done = function () {
          clearTimeout(timer);
          if (mine === latest) { setBusy(false); }
        };
        return fetch(query(view, since, viewChanged), {
          credentials: "same-origin",
          headers: {Accept: "application/json"},
          signal: abort.signal
        }).then(function (resp) {
          if (resp.status === 401) { showExpired(); }
          if (resp.status !== 200) { throw dc.PreventUpdate; }
          return resp.json();
        }).then(function (data) {
          done();
          return outputs.map(function (o) {
            var key = o.id + "." + o.property;
            return Object.prototype.hasOwnProperty.call(data, key) ? data[key] : dc.no_update;
          });
        }, function () {
          done(); // 204 (nothing changed), an error answer, a timeout or no network: no update
          throw dc.PreventUpdate;
        });
      }
    }
  });
})();
