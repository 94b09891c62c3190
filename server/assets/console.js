// storecheck console: small enhancements only; every page works without it.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  // A chosen CSV file fills the import form's text box.
  document.addEventListener("change", function (e) {
    var input = e.target;
    if (!input.matches || !input.matches("input[type=file][data-fills]")) return;
    var target = document.getElementById(input.getAttribute("data-fills"));
    var file = input.files && input.files[0];
    if (!target || !file) return;
    var reader = new FileReader();
    reader.onload = function () { target.value = String(reader.result); };
    reader.readAsText(file);
  });
  // The decision form's comment is required to return or reject.
  document.addEventListener("change", function (e) {
    var radio = e.target;
    if (!radio.matches || !radio.matches(".review-form input[name=action]")) return;
    var comment = radio.form.querySelector("textarea[name=comment]");
    if (comment) comment.required = radio.value !== "approve";
  });
})();
