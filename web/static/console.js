/*
 * Staff console: progressive enhancement of plain forms, no framework.
 *
 * Every change on the session page is a <form data-console-form> that works without
 * JavaScript (POST, then a redirect back). With this script the form is sent with
 * fetch and "Accept: application/json"; the server answers the re-rendered panels as
 * HTML fragments ({"panels": {"offers": "<...>"}}) and they replace the page's
 * [data-panel] sections, so the offers move as the answers change, without a reload.
 *
 * The fragments are the server's own autoescaped templates; they are parsed with
 * DOMParser (which runs no script) and moved into place. Words shown by this script
 * come from data- attributes of the page, so they live in templates too.
 */
(function () {
  "use strict";

  const REQUEST_TIMEOUT_MS = 20000;

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && meta.content) return meta.content;
    const field = document.querySelector('input[name="csrf_token"]');
    return field ? field.value : "";
  }

  function createConsole(root) {
    const status = root.querySelector("[data-console-status]");
    let busy = false;

    function say(text, isError) {
      if (!status) return;
      status.textContent = text || "";
      status.classList.toggle("c-status--error", Boolean(isError));
    }

    function setBusy(value) {
      busy = value;
      root.setAttribute("aria-busy", String(value));
    }

    /** Replace each panel the server sent; keep the focus where it was, if it still exists. */
    function applyPanels(panels) {
      const active = document.activeElement;
      const focusId = active && active.id ? active.id : null;
      const parser = new DOMParser();
      for (const [name, html] of Object.entries(panels || {})) {
        const panel = root.querySelector(`[data-panel="${CSS.escape(name)}"]`);
        if (!panel || typeof html !== "string") continue;
        const doc = parser.parseFromString(`<!doctype html><body>${html}`, "text/html");
        panel.replaceChildren(...Array.from(doc.body.childNodes));
      }
      if (focusId) {
        const again = document.getElementById(focusId);
        if (again && again !== document.activeElement) again.focus({ preventScroll: true });
      }
    }

    async function request(url, options) {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
      try {
        const response = await fetch(url, {
          credentials: "same-origin",
          signal: controller.signal,
          ...options,
          headers: { Accept: "application/json", "X-CSRF-Token": csrfToken(), ...(options.headers || {}) },
        });
        let data = null;
        try {
          data = await response.json();
        } catch (_err) {
          data = null;
        }
        return { response, data };
      } finally {
        clearTimeout(timer);
      }
    }

    /** Send one request, apply what came back; returns true when the change was made. */
    async function run(url, options) {
      if (busy) return false;
      setBusy(true);
      say("");
      try {
        const { response, data } = await request(url, options);
        if (response.status === 401 && data && typeof data.login === "string") {
          window.location.assign(data.login); // signed out meanwhile: sign in, then come back
          return false;
        }
        if (data && data.panels) applyPanels(data.panels);
        if (!response.ok || !data || data.ok === false) {
          const message = data && typeof data.message === "string" ? data.message : status.dataset.failedText;
          say(message, true);
          return false;
        }
        return true;
      } catch (_err) {
        say(status ? status.dataset.offlineText : "", true);
        return false;
      } finally {
        setBusy(false);
      }
    }

    root.addEventListener("submit", (event) => {
      const form = event.target;
      if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-console-form")) return;
      event.preventDefault();
      if (busy) return;
      const body = new FormData(form, event.submitter || undefined);
      run(form.action, { method: "POST", body }).then((ok) => {
        if (ok) {
          for (const input of form.querySelectorAll('input[type="text"]')) input.value = "";
        }
      });
    });

    root.addEventListener("click", (event) => {
      const target = event.target instanceof Element ? event.target : null;
      if (!target) return;
      const fetchLink = target.closest("a[data-console-fetch]");
      if (fetchLink) {
        event.preventDefault();
        run(fetchLink.dataset.consoleFetch, { method: "GET" }).then((ok) => {
          const panel = root.querySelector('[data-panel="components"]');
          if (ok && panel) {
            panel.scrollIntoView({ block: "nearest" });
            const first = panel.querySelector("button, a");
            if (first) first.focus({ preventScroll: true });
          }
        });
        return;
      }
      const close = target.closest("a[data-console-close]");
      if (close) {
        event.preventDefault();
        const panel = root.querySelector(`[data-panel="${CSS.escape(close.dataset.consoleClose)}"]`);
        if (panel) panel.replaceChildren();
        return;
      }
      const copy = target.closest("button[data-copy]");
      if (copy) {
        const field = root.querySelector(copy.dataset.copy);
        if (!field) return;
        field.select();
        const done = () => {
          if (copy.dataset.copiedText) copy.textContent = copy.dataset.copiedText;
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(field.value).then(done, () => {});
        } else {
          try {
            if (document.execCommand("copy")) done();
          } catch (_err) {
            // Selected: the person copies it by hand.
          }
        }
      }
    });
  }

  function init() {
    for (const root of document.querySelectorAll("[data-console]")) createConsole(root);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
