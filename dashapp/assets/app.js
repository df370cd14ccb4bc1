/* Client-side behaviour of the fraud dashboard. Static code only: no data lives in assets. */
(function () {
  "use strict";
  var flashTimer = null;
  var baseTitle = document.title || "Fraud monitor";
  var clockOffset = 0; // server clock minus browser clock, learnt from each data tick

  // Polling gate: the Interval is disabled while the tab is hidden and while a live tick is in
  // flight. Dash drops the answer of a request superseded by a newer one, so a tick that outlived
  // the interval would otherwise be thrown away again and again; now the next tick waits for it.
  var gate = {hidden: document.hidden, busy: false};
  var busySince = 0;
  var BUSY_MAX_MS = 15000;
  function pushGate() {
    if (window.dash_clientside && window.dash_clientside.set_props) {
      window.dash_clientside.set_props("poll-gate", {data: {hidden: gate.hidden, busy: gate.busy}});
    }
  }
  document.addEventListener("visibilitychange", function () { gate.hidden = document.hidden; pushGate(); });
  setInterval(function () {
    if (gate.busy && Date.now() - busySince > BUSY_MAX_MS) { gate.busy = false; pushGate(); }
  }, 5000);

  // A callback answered 401: the session is gone. Say so instead of silently freezing.
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
  function isTick(init) {
    return init && typeof init.body === "string" && init.body.indexOf('"tick-state"') !== -1;
  }
  var origFetch = window.fetch;
  window.fetch = function (input, init) {
    var tick = isTick(init);
    if (tick) { gate.busy = true; busySince = Date.now(); pushGate(); }
    var done = function () { if (tick) { gate.busy = false; pushGate(); } };
    return origFetch.apply(this, arguments).then(function (resp) {
      done();
      if (resp.status === 401 && String(resp.url).indexOf("/_dash-update-component") !== -1) {
        showExpired();
        return new Response(null, {status: 204}); // "nothing to update": the page stays as it was
      }
      return resp;
    }, function (err) { done(); throw err; });
  };

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    fraud: {
      intervalDisabled: function (g) { return Boolean(document.hidden || (g && g.busy)); },

      viewState: function (windowMin, pauseClicks, quickFilter, view, gridOptions) {
        var nc = window.dash_clientside.no_update;
        // A user action triggers exactly one input; the initial call (several, or ".") only
        // copies the stored view into the controls.
        var all = (window.dash_clientside.callback_context.triggered || []).map(function (t) {
          return t.prop_id;
        });
        var trig = all.length === 1 ? all : [];
        var v = Object.assign({window_min: 5, paused: false, quick_filter: ""}, view || {});
        var changed = false;
        if (trig.indexOf("window-select.value") !== -1 && windowMin && windowMin !== v.window_min) {
          v.window_min = windowMin; changed = true;
        }
        if (trig.indexOf("pause-toggle.n_clicks") !== -1 && pauseClicks) { v.paused = !v.paused; changed = true; }
        if (trig.indexOf("grid-quick-filter.value") !== -1 && (quickFilter || "") !== v.quick_filter) {
          v.quick_filter = quickFilter || ""; changed = true;
        }
        var opts = Object.assign({}, gridOptions || {}, {quickFilterText: v.quick_filter});
        return [changed ? v : nc, v.window_min, v.paused ? "Resume charts" : "Pause charts",
                v.quick_filter, opts];
      },

      freshness: function (_n, fresh) {
        var nc = window.dash_clientside.no_update;
        var trig = (window.dash_clientside.callback_context.triggered || []).map(function (t) {
          return t.prop_id;
        });
        if (!fresh) { return ["data as of \u2013", "badge badge-grey"]; }
        if (trig.indexOf("freshness-store.data") !== -1 && fresh.server_now) {
          clockOffset = fresh.server_now - Date.now();
        }
        if (!fresh.last_write) { return ["no data yet", "badge badge-red"]; }
        var age = (Date.now() + clockOffset - fresh.last_write) / 1000;
        var d = new Date(fresh.last_write);
        var label = "data as of " + pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
        var cls = age < 5 ? "badge badge-green" : (age < 30 ? "badge badge-amber" : "badge badge-red");
        if (age >= 5) { label += " (" + Math.round(age) + " s ago)"; }
        return [label, cls];
      },

      titleFlash: function (count) {
        if (flashTimer) { clearInterval(flashTimer); flashTimer = null; }
        document.title = baseTitle;
        if (count > 0) {
          var on = false;
          flashTimer = setInterval(function () {
            on = !on;
            document.title = on ? "(" + count + ") RED ALERT" : baseTitle;
          }, 1000);
        }
        return count > 0 ? "brand brand-alert" : "brand";
      },

      exportCsv: function (n) { return n > 0; }
    }
  });
})();
