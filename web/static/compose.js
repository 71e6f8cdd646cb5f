// The compose page's live preview: the form is sent as it is to /compose/preview, which
// answers with the cards (HTML escaped by the server's templates), lengths and findings.
// Without this script the page still works: the checks run again when it is saved.
(function () {
  "use strict";
  var form = document.getElementById("compose-form");
  var target = document.getElementById("live-preview");
  if (!form || !target) { return; }
  var url = form.getAttribute("data-preview-url");
  var timer = null;
  var sent = 0;

  function update() {
    var mine = ++sent;
    var body = new FormData(form);
    body.delete("action");
    fetch(url, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        if (mine !== sent) { return; }  // a later keystroke's answer will come
        if (answer.error) {
          target.innerHTML = "";
          var p = document.createElement("p");
          var started = form.querySelector("input[name=accounts]:checked");
          // Nothing chosen yet is not a mistake: say what to do, not what is wrong.
          p.className = started ? "preview-note" : "muted";
          p.textContent = started ? answer.error.field + ": " + answer.error.message
            : "Choose an account and write some text to see the preview.";
          target.appendChild(p);
        } else {
          target.innerHTML = answer.html;  // rendered and escaped by the server
        }
        target.setAttribute("data-updated", String(mine));
      })
      .catch(function () {
        target.textContent = "The preview could not be updated; your text is still here.";
      });
  }

  function soon() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(update, 250);
  }

  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
  update();
})();
