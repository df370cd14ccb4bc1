/* Client-side behaviour of the fraud dashboard. Static code only: no data lives in assets. */
(function () {
  "use strict";
  var flashTimer = null;
  var baseTitle = document.title || "Fraud monitor";
  var clockOffset = 0; // server clock minus browser clock, learnt from each data tick

  // Polling gate: the Interval is disabled while the tab is hidden and while a live tick is in
  // flight (tick.js marks it busy). Dash drops the result of a callback run superseded by a newer
  // one, so a tick that outlived the interval would otherwise be thrown away again and again.
  var gate = {hidden: document.hidden, busy: false};
  function pushGate() {
    if (window.dash_clientside && window.dash_clientside.set_props) {
      window.dash_clientside.set_props("poll-gate", {data: {hidden: gate.hidden, busy: gate.busy}});
    }
  }
  document.addEventListener("visibilitychange", function () { gate.hidden = document.hidden; pushGate(); });

  // A request answered 401: the session is gone. Say so instead of silently freezing.
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
  // What tick.js (loaded after this file: Dash serves assets in name order) shares with the page.
  window.fraudPage = {
    showExpired: showExpired,
    setBusy: function (on) { gate.busy = on; gate.hidden = document.hidden; pushGate(); }
  };
  var origFetch = window.fetch;
  window.fetch = function () {
    return origFetch.apply(this, arguments).then(function (resp) {
      if (resp.status === 401 && String(resp.url).indexOf("/_dash-update-component") !== -1) {
        showExpired();
        return new Response(null, {status: 204}); // "nothing to update": the page stays as it was
      }
      return resp;
    });
  };

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  var lastPick = {id: null, at: 0};
  var pendingAcks = {};
  var bannerPending = false; // RED ALERT content waiting for the pointer to leave the bar
  var bannerShown = 0; // the count the bar shows
  var ACTION_BUTTONS = ["acknowledge", "assign_to_me", "resolve_fraud", "resolve_false_positive", "reopen"];

  // The pointer (or keyboard focus) on the RED ALERT bar holds its content still (bannerShow).
  var held = false;
  var HOLD_MAX_MS = 30000;
  var lastPointer = {x: -1, y: -1, at: 0};
  document.addEventListener("mousemove", function (e) {
    lastPointer = {x: e.clientX, y: e.clientY, at: Date.now()};
  }, {passive: true});
  function pointerInBar() {
    return lastPointer.x >= 0 && inBar(document.elementFromPoint(lastPointer.x, lastPointer.y));
  }
  function focusInBar() { // keyboard focus holds too (a mouse click leaves focus behind: not that)
    var a = document.activeElement;
    return inBar(a) && a.matches(":focus-visible");
  }
  function pointerOnBar() {
    if (focusInBar()) { lastPointer.at = Date.now(); return true; }
    return pointerInBar();
  }
  function setHold(on) {
    if (on === held || !(window.dash_clientside && window.dash_clientside.set_props)) { return; }
    held = on;
    window.dash_clientside.set_props("banner-hold", {data: on});
  }
  function inBar(node) { return Boolean(node && node.closest && node.closest("#red-alert-banner")); }
  document.addEventListener("mouseover", function (e) { // comes before the move's mousemove
    lastPointer = {x: e.clientX, y: e.clientY, at: Date.now()};
    setHold(inBar(e.target) || focusInBar());
  });
  document.addEventListener("focusin", function (e) { if (inBar(e.target)) { setHold(true); } });
  // A clicked Acknowledge is disabled and drops its focus while the pointer is still on it: the
  // hold stays until the pointer leaves (new rows drawn then moved another alert under it).
  document.addEventListener("focusout", function (e) {
    if (!inBar(e.relatedTarget)) { setHold(pointerInBar()); }
  });

  // The sticky head (top bar + RED ALERT bar) is never in front of a section the nav jumps to.
  function trackHead() {
    var head = document.querySelector(".app-head");
    if (!head || !window.ResizeObserver) { return false; }
    new ResizeObserver(function () {
      document.documentElement.style.scrollPaddingTop = (head.offsetHeight + 8) + "px";
    }).observe(head);
    return true;
  }
  var headTimer = setInterval(function () { if (trackHead()) { clearInterval(headTimer); } }, 200);

  // Accessible names and roles for two pieces of Dash 4.4 markup (axe, WCAG 4.1.2), on every page
  // element Dash draws, now or later (the rule builder adds some while the page is open):
  // - RadioItems and Checklist draw native radios/checkboxes inside labels marked role=option of a
  //   role=listbox: controls nested in interactive roles, announced twice. The native inputs are the
  //   controls; the labels lose the option role and the list becomes a radiogroup/group. Dash keeps
  //   handling clicks and keys on the inputs, so the value callbacks are untouched.
  // - Dropdown keeps a hidden (aria-hidden) input in the tab order as a focus relay, and takes it out
  //   itself on the first focus; out of the tab order from the start (the combobox button stays).
  function repairMarkup(root) {
    root.querySelectorAll('[role="listbox"]').forEach(function (box) {
      var input = box.querySelector(":scope > label.dash-options-list-option input");
      if (input) { box.setAttribute("role", input.type === "radio" ? "radiogroup" : "group"); }
    });
    root.querySelectorAll("label.dash-options-list-option[role], label.dash-options-list-option[aria-selected]")
      .forEach(function (label) { label.removeAttribute("role"); label.removeAttribute("aria-selected"); });
    root.querySelectorAll("input.dash-dropdown-focus-target").forEach(function (relay) {
      if (relay.tabIndex !== -1) { relay.tabIndex = -1; }
    });
  }
  new MutationObserver(function () { repairMarkup(document); }).observe(document.documentElement, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["role", "aria-selected", "tabindex"]
  });

  // Logging out forgets this browser's view state (pause, filter): the next user starts afresh.
  document.addEventListener("submit", function (e) {
    if (e.target && e.target.id === "logout-form") {
      try { window.localStorage.clear(); window.sessionStorage.clear(); } catch (err) { /* storage off */ }
    }
  }, true);

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    fraud: {
      intervalDisabled: function (g) { return Boolean(document.hidden || (g && g.busy)); },

      viewState: function (windowMin, pauseClicks, quickFilter, view, gridOptions, user) {
        var nc = window.dash_clientside.no_update;
        // A user action triggers exactly one input; the initial call (several, or ".") only
        // copies the stored view into the controls.
        var all = (window.dash_clientside.callback_context.triggered || []).map(function (t) {
          return t.prop_id;
        });
        var trig = all.length === 1 ? all : [];
        var mine = view && view.user === user; // browser storage is shared: another user's view is ignored
        var v = Object.assign({window_min: 5, paused: false, quick_filter: ""}, mine ? view : {}, {user: user});
        var changed = !mine;
        if (trig.indexOf("window-select.value") !== -1 && windowMin && windowMin !== v.window_min) {
          v.window_min = windowMin; changed = true;
        }
        if (trig.indexOf("pause-toggle.n_clicks") !== -1 && pauseClicks) { v.paused = !v.paused; changed = true; }
        if (trig.indexOf("grid-quick-filter.value") !== -1 && (quickFilter || "") !== v.quick_filter) {
          v.quick_filter = quickFilter || ""; changed = true;
        }
        var opts = Object.assign({}, gridOptions || {}, {quickFilterText: v.quick_filter});
        return [changed ? v : nc, v.window_min, v.paused ? "Resume charts" : "Pause charts",
                v.quick_filter, opts, v.paused ? "paused-badge" : "paused-badge hidden",
                v.paused ? "grid-2 charts-paused" : "grid-2"];
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

      // A row click (cellClicked: fired for every click, even on the selected row) or a keyboard
      // selection opens that alert. The grid's own selection events are dropped by dash-ag-grid
      // while a data update is being applied (a tick lands every second), so a click is not
      // left to them alone.
      gridPick: function (clicked, rows, shown) {
        var nc = window.dash_clientside.no_update;
        var trig = (window.dash_clientside.callback_context.triggered || []).map(function (t) {
          return t.prop_id;
        });
        var id = null;
        if (trig.indexOf("alerts-grid.cellClicked") !== -1 && clicked && clicked.rowId) {
          id = String(clicked.rowId);
        } else if (trig.indexOf("alerts-grid.selectedRows") !== -1 && Array.isArray(rows) &&
                   rows.length === 1 && rows[0] && rows[0].alert_id) {
          id = String(rows[0].alert_id);
          // the grid re-announces the row it highlights for the shown alert (gridSelect): not a pick
          if (shown && shown.alert_id === id) { return nc; }
          // nor is the grid's selection event of the row just clicked, however late it comes (a
          // second pick would supersede an action's answer in flight for that alert)
          if (lastPick.id === id) { return nc; }
        }
        if (!id) { return nc; }
        var now = Date.now();
        if (lastPick.id === id && now - lastPick.at < 1000) { return nc; } // one click, two events
        lastPick = {id: id, at: now};
        return {alert_id: id, at: now};
      },

      // A RED ALERT item's text opens the alert in the detail panel, scrolled into view.
      bannerOpen: function () {
        var nc = window.dash_clientside.no_update;
        var ctx = window.dash_clientside.callback_context;
        var t = (ctx.triggered || [])[0];
        if (!t || !t.value) { return nc; }
        var id = ctx.triggered_id && ctx.triggered_id.alert;
        if (typeof id !== "string") { return nc; }
        var target = document.getElementById("sec-alerts");
        if (target) { target.scrollIntoView({block: "start"}); }
        lastPick = {id: id, at: Date.now()};
        return {alert_id: id, at: lastPick.at};
      },

      // The grid highlights the alert the detail panel shows (a banner pick, or a click a data
      // update undid).
      gridSelect: function (selected) {
        if (!selected || typeof selected.alert_id !== "string") { return window.dash_clientside.no_update; }
        return {ids: [selected.alert_id]};
      },

      // Actions the selected alert's state allows (decided on the server) are enabled, others not.
      actionsEnabled: function (selected) {
        var allowed = (selected && Array.isArray(selected.allowed)) ? selected.allowed : [];
        return ACTION_BUTTONS.map(function (action) { return allowed.indexOf(action) === -1; });
      },

      // The RED ALERT bar's content. While the pointer is over the bar, new content waits (rows never
      // move under a click aimed at them); it is shown when the pointer leaves.
      bannerShow: function (data, hold, toggleClicks) {
        var nc = window.dash_clientside.no_update;
        var trig = (window.dash_clientside.callback_context.triggered || []).map(function (t) {
          return t.prop_id;
        });
        var bar = document.getElementById("red-alert-banner");
        var count = (data && data.count) || 0;
        var render = false;
        // Only new content or the pointer leaving re-renders the rows: a re-render replaces the
        // buttons, and a click whose press and release land on different nodes is lost.
        // Held: rows are on show and the pointer (or focus) is on them, unless the pointer has
        // rested there so long that it is no longer aiming at a row.
        var holding = bannerShown > 0 && count > 0 && pointerOnBar() &&
                      Date.now() - lastPointer.at < HOLD_MAX_MS;
        if (trig.indexOf("banner-data.data") !== -1 || trig.length !== 1) {
          if (holding) { bannerPending = true; } else { render = true; }
        } else if (trig[0] === "banner-hold.data" && !hold && bannerPending && !holding) {
          render = true;
        }
        if (render) { bannerPending = false; bannerShown = count; }
        if (bar) {
          if (bannerPending) { bar.setAttribute("data-held", "1"); } else { bar.removeAttribute("data-held"); }
        }
        var expanded = (toggleClicks || 0) % 2 === 1;
        var toggle = document.getElementById("red-alert-toggle");
        if (toggle) { toggle.setAttribute("aria-expanded", expanded ? "true" : "false"); }
        return [render ? (data && data.head) || [] : nc, render ? (data && data.items) || [] : nc,
                expanded ? "ra-list expanded" : "ra-list",
                expanded ? "Show fewer" : "Show all (" + bannerShown + ")"];
      },

      // Feedback at once: the clicked Acknowledge says so and cannot be clicked twice. The click is
      // handed to the server through a stable store (banner-ack-request): the buttons are replaced
      // whenever the bar shows new content, and were they the server callback's input, each
      // re-render would re-run it and Dash would drop the answer still in flight for the click.
      ackPending: function (clicks) {
        var ctx = window.dash_clientside.callback_context;
        var request = window.dash_clientside.no_update;
        (ctx.triggered || []).forEach(function (t) {
          if (!t.value) { return; } // freshly rendered buttons (n_clicks 0) are listed too
          var id;
          try { id = JSON.parse(t.prop_id.slice(0, t.prop_id.lastIndexOf("."))); } catch (err) { return; }
          if (id && typeof id.alert === "string" && !pendingAcks[id.alert]) {
            pendingAcks[id.alert] = true;
            request = {type: id.type, alert: id.alert, v: id.v, at: Date.now()};
          }
        });
        var ids = (ctx.outputs_list && ctx.outputs_list[0]) || [];
        return [ids.map(function (o) { return pendingAcks[o.id.alert] ? "Acknowledging\u2026" : "Acknowledge"; }),
                ids.map(function (o) { return Boolean(pendingAcks[o.id.alert]); }), request];
      }
    }
  });
})();
