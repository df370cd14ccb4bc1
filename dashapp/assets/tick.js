/* The live tick's page side: one clientside callback polls GET /api/tick and applies the answer.
   Contract: dashapp/tick/__init__.py; the outputs are registered in dashapp/tick/page.py. */
(function () {
  "use strict";
  var TICK_URL = "/api/tick";
  var TIMEOUT_MS = 15000; // a poll never holds the gate longer than this
  var latest = 0; // the newest poll: only its end reopens the gate (a view change can start one early)

  // The poll gate and the session-expired notice belong to the page (app.js, window.fraudPage):
  // a poll marks the gate busy so the Interval waits for it.
  var page = window.fraudPage;

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
        page.setBusy(true);
        var done = function () {
          clearTimeout(timer);
          if (mine === latest) { page.setBusy(false); }
        };
        return fetch(query(view, since, viewChanged), {
          credentials: "same-origin",
          headers: {Accept: "application/json"},
          signal: abort.signal
        }).then(function (resp) {
          if (resp.status === 401) { page.showExpired(); }
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
