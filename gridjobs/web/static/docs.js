// Swagger UI (shipped by the swagger-ui-py package) on the document the page carries inline.
window.addEventListener("DOMContentLoaded", function () {
  "use strict";
  const spec = JSON.parse(document.getElementById("openapi").textContent);
  window.ui = SwaggerUIBundle({ spec: spec, dom_id: "#swagger-ui", deepLinking: true });
});
