// Starts Swagger UI on the API docs page; "Try it out" sends the session's CSRF token.
(function () {
  "use strict";
  // Swagger UI leaves its server picker without a name; screen readers need one.
  function label() {
    var select = document.getElementById("servers");
    if (select) { select.setAttribute("aria-label", "Server"); }
  }

  function start() {
    var root = document.getElementById("swagger");
    if (!root || typeof SwaggerUIBundle === "undefined") { return; }
    var meta = document.querySelector('meta[name="csrf-token"]');
    var token = meta ? meta.getAttribute("content") : "";
    SwaggerUIBundle({
      url: root.getAttribute("data-spec-url"),
      domNode: root,
      deepLinking: false,
      onComplete: label,
      requestInterceptor: function (request) {
        if (token) { request.headers["X-CSRF-Token"] = token; }
        return request;
      }
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
