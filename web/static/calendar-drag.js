// Drag a post onto another day (month view) or day and hour (week view). A drop fills the
// page's "move" form and sends it; the server moves a Welsh/English pair together and,
// when the move would void an approval, first shows a page saying so. Keyboard users
// move a post from its own page (the "Move" form), which every chip links to.
(function () {
  "use strict";
  var form = document.getElementById("move-form");
  if (!form) { return; }
  var dragged = null;

  document.querySelectorAll("[data-post-id]").forEach(function (chip) {
    chip.setAttribute("draggable", "true");
    chip.addEventListener("dragstart", function (event) {
      dragged = chip;
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", chip.getAttribute("data-post-id"));
      chip.classList.add("dragging");
    });
    chip.addEventListener("dragend", function () {
      chip.classList.remove("dragging");
    });
  });

  // The marker is the week view's cell itself, or the month view's day link: its cell
  // is the drop zone.
  document.querySelectorAll("[data-drop-day]").forEach(function (marker) {
    var cell = marker.closest("td") || marker;
    cell.addEventListener("dragover", function (event) {
      if (!dragged) { return; }
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      cell.classList.add("drop-target");
    });
    cell.addEventListener("dragleave", function () {
      cell.classList.remove("drop-target");
    });
    cell.addEventListener("drop", function (event) {
      event.preventDefault();
      cell.classList.remove("drop-target");
      if (!dragged) { return; }
      var time = dragged.getAttribute("data-time");  // HH:MM, local
      var hour = marker.getAttribute("data-drop-hour");
      if (hour) { time = hour + ":" + time.slice(3); }
      var at = marker.getAttribute("data-drop-day") + "T" + time;
      var id = dragged.getAttribute("data-post-id");
      var dragged_at = dragged.getAttribute("data-at");
      dragged = null;
      if (at === dragged_at) { return; }  // dropped where it was
      form.setAttribute("action", form.getAttribute("data-action").replace("/0/", "/" + id + "/"));
      form.elements.namedItem("at").value = at;
      form.elements.namedItem("return_to").value = location.pathname + location.search;
      form.submit();
    });
  });
})();
