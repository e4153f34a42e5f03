// breachd's web page: live countdowns and keyboard moves. No dependencies.
(function () {
  "use strict";
  function span(secs) {
    var s = Math.abs(secs), d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600),
        m = Math.floor((s % 3600) / 60);
    if (d > 0) return d + "d " + h + "h";
    if (h > 0) return h + "h " + m + "m";
    return m + "m " + Math.floor(s % 60) + "s";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-due"));
      if (isNaN(due)) return;
      var left = Math.round((due - now) / 1000);
      el.textContent = left >= 0 ? "in " + span(left) : "overdue by " + span(left);
      el.classList.toggle("overdue", left < 0);
      el.title = el.getAttribute("data-due");
    });
  }
  tick();
  setInterval(tick, 1000);
  // j/k move between incident rows, g goes to the list.
  document.addEventListener("keydown", function (e) {
    var t = e.target.tagName;
    if (t === "INPUT" || t === "TEXTAREA" || e.ctrlKey || e.metaKey || e.altKey) return;
    var links = Array.prototype.slice.call(document.querySelectorAll("a.row-link"));
    var i = links.indexOf(document.activeElement);
    if (e.key === "j" && links.length) { links[Math.min(i + 1, links.length - 1)].focus(); e.preventDefault(); }
    else if (e.key === "k" && links.length) { links[Math.max(i - 1, 0)].focus(); e.preventDefault(); }
    else if (e.key === "g") { window.location = "/ui/incidents"; }
  });
})();
