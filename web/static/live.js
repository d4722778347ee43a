/*
 * The staff's live desk: the queue and one chat, kept current by server-sent events.
 *
 * GET /console/live/events streams the queue's changes and the payloads of this staff
 * member's chats (with ?handover=ID&after=N, that chat's messages since the page was
 * rendered). A queue change re-fetches the queue panel (server-rendered HTML); a payload
 * of the chat on screen is appended to its log, once (by its id). Forms marked
 * data-live-form are sent with fetch (Accept: application/json, the X-CSRF-Token from
 * <meta name="csrf-token">); without JavaScript they post and redirect as usual.
 *
 * Text from anyone goes on the page with textContent only; the words of the events come
 * from the page's data- attributes, so they live in the template.
 */
(function () {
  "use strict";

  const REQUEST_TIMEOUT_MS = 20000;
  const QUEUE_TYPES = new Set([
    "queued", "offered", "taken", "transferred", "message_left", "nobody_available", "closed", "handed_back",
  ]);

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && meta.content) return meta.content;
    const field = document.querySelector('input[name="csrf_token"]');
    return field ? field.value : "";
  }

  /** "{staff} joined" with the payload's fields put in. */
  function fill(template, payload) {
    return String(template || "").replace(/\{(\w+)\}/g, (_m, key) =>
      payload[key] === undefined || payload[key] === null ? "" : String(payload[key]),
    );
  }

  function createDesk(root) {
    const status = document.querySelector("[data-console-status]");
    const log = root.querySelector("[data-live-log]");
    const handover = root.dataset.handover || "";
    let after = Number(root.dataset.after || "0") || 0;
    let queueTimer = null;

    function say(text, isError) {
      if (!status) return;
      status.textContent = text || "";
      status.classList.toggle("c-status--error", Boolean(isError));
    }

    function seen(id) {
      return log && log.querySelector(`[data-id="${CSS.escape(String(id))}"]`) !== null;
    }

    function line(kind, testid, id, label, text) {
      const item = document.createElement("li");
      item.className = `c-live-msg c-live-msg--${kind}`;
      item.setAttribute("data-testid", testid);
      if (id !== undefined) item.dataset.id = String(id);
      if (label) {
        const who = document.createElement("strong");
        who.textContent = label;
        item.append(who, " ");
      }
      item.append(String(text || ""));
      return item;
    }

    function eventWords(payload) {
      const key = {
        staff_joined: "textStaffJoined",
        handed_back: "textHandedBack",
        closed: "textClosed",
        offer_card: "textOfferCard",
        transferred: "textTransferred",
        nobody_available: "textNobody",
        message_left: "textMessageLeft",
      }[payload.type];
      return key ? fill(root.dataset[key], payload) : "";
    }

    function show(payload) {
      if (!log || payload.handover !== handover || seen(payload.id)) return;
      let item = null;
      if (payload.type === "staff_message") {
        item = line("staff", "live-staff-message", payload.id, payload.staff, payload.text);
      } else if (payload.type === "shopper_message") {
        item = line("shopper", "live-shopper-message", payload.id, root.dataset.labelShopper, payload.text);
      } else {
        const words = eventWords(payload);
        if (!words) return;
        item = line("event", "live-event", payload.id, "", words);
        item.dataset.type = payload.type;
      }
      log.append(item);
      log.scrollTop = log.scrollHeight;
      if (typeof payload.id === "number" && payload.id > after) after = payload.id;
    }

    async function refreshQueue() {
      const url = root.dataset.queueUrl;
      if (!url) return;
      try {
        const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
        if (!response.ok) return;
        const html = await response.text();
        const doc = new DOMParser().parseFromString(`<!doctype html><body>${html}`, "text/html");
        const fresh = doc.querySelector("[data-live-queue]");
        if (!fresh) return;
        for (const panel of document.querySelectorAll("[data-live-queue]")) {
          panel.replaceWith(document.importNode(fresh, true));
        }
      } catch (_err) {
        // offline for a moment: the next change or a reload brings the queue
      }
    }

    function queueChanged() {
      if (queueTimer !== null) return;
      queueTimer = setTimeout(() => {
        queueTimer = null;
        refreshQueue();
      }, 150);
    }

    function listen(reopened) {
      if (!root.dataset.events || typeof EventSource === "undefined") return;
      const url = new URL(root.dataset.events, window.location.href);
      if (after) url.searchParams.set("after", String(after));
      const source = new EventSource(url.toString());
      // The server ends a stream after a while and says so: open the next one at once,
      // after the last payload of this chat shown (the queue is re-read on opening).
      source.addEventListener("reconnect", () => {
        source.close();
        listen(true);
      });
      source.onmessage = (event) => {
        let payload = null;
        try {
          payload = JSON.parse(event.data);
        } catch (_err) {
          return;
        }
        if (!payload || typeof payload !== "object") return;
        if (QUEUE_TYPES.has(payload.type)) queueChanged();
        show(payload);
      };
      // (Re)connected: what changed in the queue meanwhile is not replayed, so re-read it.
      let opened = Boolean(reopened);
      source.onopen = () => {
        if (opened) queueChanged();
        opened = true;
      };
      root.dataset.listening = "true";
    }

    async function submit(form, submitter) {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
      const buttons = Array.from(form.querySelectorAll("button"));
      for (const b of buttons) b.disabled = true;
      say("");
      try {
        const response = await fetch(form.action, {
          method: "POST",
          body: new FormData(form, submitter || undefined),
          credentials: "same-origin",
          signal: controller.signal,
          headers: { Accept: "application/json", "X-CSRF-Token": csrfToken() },
        });
        let data = null;
        try {
          data = await response.json();
        } catch (_err) {
          data = null;
        }
        if (response.status === 401 && data && typeof data.login === "string") {
          window.location.assign(data.login);
          return;
        }
        if (!response.ok || !data || data.ok === false) {
          say(data && typeof data.message === "string" ? data.message : root.dataset.failedText, true);
          return;
        }
        if (form.hasAttribute("data-live-say")) {
          const text = form.querySelector("textarea, input[type=text]");
          if (text) {
            text.value = "";
            text.focus();
          }
          for (const payload of data.payloads || []) show(payload);
        } else if (form.hasAttribute("data-live-reload") || form.action.endsWith("/accept")) {
          window.location.assign(data.redirect || window.location.href);
        } else {
          for (const payload of data.payloads || []) show(payload);
        }
      } catch (_err) {
        say(root.dataset.failedText, true);
      } finally {
        clearTimeout(timer);
        for (const b of buttons) b.disabled = false;
      }
    }

    document.addEventListener("submit", (event) => {
      const form = event.target;
      if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-live-form")) return;
      if (!root.contains(form) && !form.closest("[data-live-queue]")) return;
      event.preventDefault();
      submit(form, event.submitter);
    });

    const box = root.querySelector("[data-live-say] textarea");
    if (box) {
      box.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.shiftKey) {
          event.preventDefault();
          box.form.requestSubmit();
        }
      });
    }
    if (log) log.scrollTop = log.scrollHeight;
    listen();
  }

  function init() {
    // One desk per page: the chat page's root also holds the queue panel.
    const root = document.querySelector("[data-live-desk]");
    if (root) createDesk(root);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
