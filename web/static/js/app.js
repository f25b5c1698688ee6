// The dashboard's behaviour on top of htmx. No inline script anywhere: the CSP forbids it.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // Every htmx request carries the CSRF token; the chat log says how many messages it shows,
  // so the server answers 204 (nothing to swap) when no new reply has arrived.
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
    var elt = event.detail.elt;
    if (elt && elt.hasAttribute && elt.hasAttribute("data-chat-log")) {
      var marker = elt.querySelector("[data-count]");
      event.detail.parameters.seen = marker ? marker.getAttribute("data-count") : "0";
    }
  });

  // Forms marked data-reset-on-success are cleared after a successful request (the chat box).
  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    if (event.detail.successful && elt && elt.hasAttribute && elt.hasAttribute("data-reset-on-success")) {
      var text = elt.querySelector("textarea");
      if (text) { text.value = ""; text.focus(); }
    }
  });

  function scrollChats(root) {
    var logs = (root || document).querySelectorAll(".chat-log");
    for (var i = 0; i < logs.length; i++) { logs[i].scrollTop = logs[i].scrollHeight; }
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target && target.classList && target.classList.contains("chat-log")) {
      target.scrollTop = target.scrollHeight;
    } else if (target && target.querySelector) {
      scrollChats(target);
    }
  });

  // "Send the code again" waits until the operator allows it: the button counts down.
  function countdowns(root) {
    var buttons = (root || document).querySelectorAll("[data-countdown]");
    Array.prototype.forEach.call(buttons, function (button) {
      var left = parseInt(button.getAttribute("data-countdown"), 10) || 0;
      var hintId = button.getAttribute("aria-describedby");
      var hint = hintId ? document.getElementById(hintId) : null;
      var template = hint ? hint.getAttribute("data-countdown-text") : null;
      button.removeAttribute("data-countdown");
      if (left <= 0) { return; }
      button.disabled = true;
      var timer = setInterval(function () {
        left -= 1;
        if (left <= 0) {
          clearInterval(timer);
          button.disabled = false;
          if (hint) { hint.hidden = true; }
        } else if (hint && template) {
          hint.textContent = template.replace("{s}", String(left));
        }
      }, 1000);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { countdowns(document); });
  document.addEventListener("htmx:afterSwap", function (event) { countdowns(event.detail.target); });

  // The identifier's keyboard, name and hint follow the chosen kind (a phone keypad only for
  // a phone).
  document.addEventListener("change", function (event) {
    var radio = event.target;
    if (!radio || radio.name !== "identifier_kind" || !radio.hasAttribute("data-inputmode")) { return; }
    var field = document.getElementById("identifier");
    if (field) { field.setAttribute("inputmode", radio.getAttribute("data-inputmode")); }
    var hint = document.getElementById("identifier-hint");
    if (hint && radio.hasAttribute("data-hint")) { hint.textContent = radio.getAttribute("data-hint"); }
    var label = document.getElementById("identifier-label");
    if (label && radio.hasAttribute("data-label")) { label.textContent = radio.getAttribute("data-label"); }
  });

  // The account page's section navigation names every section, also those it was not told
  // about (a .panel with an id and an h2 heading); the link of the section in view is marked.
  function sectionNav() {
    var nav = document.querySelector("[data-section-nav] ul");
    if (!nav) { return; }
    var known = {};
    Array.prototype.forEach.call(nav.querySelectorAll("a"), function (a) { known[a.getAttribute("href")] = a; });
    var sections = document.querySelectorAll("main section.panel[id]");
    Array.prototype.forEach.call(sections, function (section) {
      var href = "#" + section.id;
      var heading = section.querySelector("h2");
      if (known[href] || !heading) { return; }
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = href;
      link.textContent = heading.textContent.trim();
      item.appendChild(link);
      nav.appendChild(item);
      known[href] = link;
    });
    if (!("IntersectionObserver" in window)) { return; }
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        var link = known["#" + entry.target.id];
        if (!link) { return; }
        if (entry.isIntersecting) { link.setAttribute("aria-current", "location"); }
        else { link.removeAttribute("aria-current"); }
      });
    }, { rootMargin: "-20% 0px -70% 0px" });
    Array.prototype.forEach.call(sections, function (section) { observer.observe(section); });
  }
  document.addEventListener("DOMContentLoaded", sectionNav);

  // A selected invitation link is easy to copy.
  document.addEventListener("focusin", function (event) {
    var elt = event.target;
    if (elt && elt.classList && elt.classList.contains("copy")) { elt.select(); }
  });
})();
