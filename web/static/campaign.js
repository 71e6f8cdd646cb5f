// The campaign form: the RFC 5545 rule shown as the rule builder changes, and a live
// preview of the next posts (rendered by the server through the campaign library) as
// the person types. Without JavaScript the form still works: Save shows the result.
(function () {
  "use strict";
  var form = document.getElementById("campaign-form");
  if (!form) return;
  var DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];

  function ruleFor(prefix) {
    var get = function (name) { var el = form.elements[prefix + "-" + name]; return el ? el.value : ""; };
    var freq = get("freq");
    if (freq === "custom") return get("custom").trim();
    var parts = ["FREQ=" + freq.toUpperCase()];
    var interval = parseInt(get("interval"), 10);
    if (interval > 1) parts.push("INTERVAL=" + interval);
    if (freq === "weekly") {
      var days = DAYS.filter(function (d) {
        return form.querySelector('input[name="' + prefix + '-weekdays"][value="' + d + '"]:checked');
      });
      if (days.length) parts.push("BYDAY=" + days.join(","));
    }
    if (freq === "monthly") parts.push("BYMONTHDAY=" + (parseInt(get("monthday"), 10) || 1));
    return parts.join(";");
  }

  function showRules() {
    document.querySelectorAll(".rule-builder").forEach(function (box) {
      var prefix = box.getAttribute("data-prefix");
      var out = document.getElementById(prefix + "-rule");
      if (out) out.textContent = ruleFor(prefix);
    });
  }

  var target = document.getElementById("live-preview");
  var timer = null;
  var seq = 0;

  function refresh() {
    var mine = ++seq;
    target.setAttribute("aria-busy", "true");
    fetch(form.getAttribute("data-preview"), {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" }
    }).then(function (r) { return r.json(); }).then(function (data) {
      if (mine !== seq) return; // a newer request is on its way
      target.setAttribute("aria-busy", "false");
      // Rendered by the server with the review pages' card; every piece of text escaped.
      target.innerHTML = data.html;
    }).catch(function () {
      target.setAttribute("aria-busy", "false");
      target.textContent = "The preview could not be loaded.";
    });
  }

  function later() { clearTimeout(timer); timer = setTimeout(refresh, 400); }

  form.addEventListener("input", function () { showRules(); later(); });
  form.addEventListener("change", function () { showRules(); later(); });
  var button = document.getElementById("refresh-preview");
  if (button) button.addEventListener("click", refresh);
  showRules();
  if (form.elements["name"] && form.elements["name"].value) refresh();
})();
