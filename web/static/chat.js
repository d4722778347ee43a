/*
 * Bike advisor chat widget: vanilla JS, no framework, nothing loaded from elsewhere.
 *
 * Talks to the web app's same-origin proxy (POST /api/chat), which forwards to Rasa's
 * REST channel and answers {"messages": [...]} as Rasa sent them. The conversation is
 * the server's: it issues the id in an HttpOnly cookie, so this script neither knows
 * nor sends one. On load, GET /api/chat/history gives back the conversation so far
 * ({"messages": [{"from": "shopper"|"bot", "text", "buttons", "custom"}]}), so a
 * reload shows it again.
 *
 * Talk to a human: when a reply carries {"type": "handoff"} (or the history says a
 * hand-over is waiting or live), the widget listens to GET /api/chat/events
 * (server-sent events of the conversation's hand-over): a colleague joining, their
 * messages, offer cards they send, the hand-back to the bot, or nobody being free, in
 * which case a small form leaves a message for the team (POST
 * /api/chat/message-for-staff). While a colleague is in the chat the shopper's messages
 * go to them through the same POST /api/chat. The words are the widget's data-live-*
 * attributes, so they live in the template.
 *
 * Language: the widget's data-lang (the shop page's language; else the page's
 * <html lang>, else the browser's), sent with every message as metadata
 * {"language": "de"}. The widget's own words are the server's, in that language: the
 * JSON blob <script type="application/json" id="chat-strings"> the page carries, else
 * GET /api/chat/strings?lang=… (see web/i18n.py); this file holds no sentence of its own.
 *
 * Every piece of text from the bot or the shopper is put on the page with textContent
 * (or append(string)), never innerHTML: whatever anyone types is shown literally.
 */
(function () {
  "use strict";

  // Where widgets from before the server-issued cookie kept a sender id: removed on load.
  const LEGACY_SENDER_KEY = "bikeAdvisor.senderId";
  // Share codes: 6 characters of the advisor's alphabet (no 0/O, 1/I/L).
  const RESUME_CODE_PATTERN = /^[A-HJKMNP-Z2-9]{6}$/;
  // Longer than the server's own 30 s wait for Rasa, so its friendly 503 arrives first;
  // this only catches a proxy or network that never answers.
  const REQUEST_TIMEOUT_MS = 45000;
  const ROLE_KEYS = { main: "roleMain", required: "roleRequired", option: "roleOption" };
  // Escaped so the file stays ASCII whatever charset it is served with.
  const EM_DASH = "\u2014";
  const CLEAT_KEYS = { flat: "cleatFlat", spd: "cleatSpd", spd_sl: "cleatSpdSl", look_keo: "cleatLookKeo" };
  const LANGUAGES = ["de", "en"];
  // The widget's words (the server's, in the widget's language): set before a widget starts.
  let STRINGS = {};

  /** One of the widget's words, with {name} fields filled in from `values`. */
  function t(key, values) {
    return String(STRINGS[key] || "").replace(/\{(\w+)\}/g, (_m, name) =>
      values && values[name] !== undefined && values[name] !== null ? String(values[name]) : "",
    );
  }

  /** "de-AT" -> "de"; null for a language the shop does not speak. */
  function shortLanguage(value) {
    const code = String(value || "").trim().toLowerCase().split(/[-_]/)[0];
    return LANGUAGES.includes(code) ? code : null;
  }

  /** The widget's language: its data-lang, the page's lang, the browser's, else German. */
  function widgetLanguage(root) {
    return (
      shortLanguage(root.dataset.lang) ||
      shortLanguage(document.documentElement.lang) ||
      shortLanguage(navigator.language) ||
      "de"
    );
  }

  /** The words from the page's JSON blob, else from the server; {} when neither answers. */
  async function loadStrings(root, language) {
    const blob = document.getElementById(root.dataset.strings || "chat-strings");
    if (blob) {
      try {
        const parsed = JSON.parse(blob.textContent || "{}");
        if (parsed && typeof parsed === "object" && shortLanguage(parsed.lang) === language) return parsed;
      } catch (_err) {
        // a broken blob: ask the server instead
      }
    }
    try {
      const endpoint = root.dataset.stringsEndpoint || "/api/chat/strings";
      const response = await fetch(`${endpoint}?lang=${encodeURIComponent(language)}`, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (response.ok) return await response.json();
    } catch (_err) {
      // offline: the widget still works, with fewer words
    }
    return {};
  }

  class ChatError extends Error {}

  /** Build an element; `text` becomes textContent, children are nodes or plain strings. */
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null) continue;
      if (key === "text") node.textContent = String(value);
      else if (key === "class") node.className = value;
      else node.setAttribute(key, String(value));
    }
    for (const child of children || []) {
      if (child !== undefined && child !== null && child !== "") node.append(child);
    }
    return node;
  }

  function forgetLegacySenderId() {
    try {
      localStorage.removeItem(LEGACY_SENDER_KEY);
    } catch (_err) {
      // storage blocked: nothing was kept there either
    }
  }

  function pageLocale() {
    return STRINGS.locale || document.documentElement.lang || "de-DE";
  }

  /** A price as the widget's language writes it: "1.479,00 €" (de-DE), "€1,479.00" (en-GB). */
  function formatPrice(amount, currency) {
    const value = Number(amount);
    if (amount === null || amount === undefined || !Number.isFinite(value)) return "";
    const code = typeof currency === "string" && currency ? currency : "EUR";
    try {
      return new Intl.NumberFormat(pageLocale(), { style: "currency", currency: code }).format(value);
    } catch (_err) {
      return `${value.toFixed(2)} ${code}`; // unknown currency code
    }
  }

  function humanize(value) {
    if (typeof value === "string") return value.replace(/_/g, " ");
    if (value && typeof value === "object") {
      return humanize(value.label || value.wish || value.name || value.slot || "");
    }
    return String(value);
  }

  /**
   * The strings of a list field. Payloads from before a key existed (e.g. "alerts") lack
   * it, so a missing or malformed list is simply empty rather than an error.
   */
  function textList(value) {
    if (!Array.isArray(value)) return [];
    return value
      .filter((v) => v !== null && v !== undefined)
      .map((v) => (typeof v === "string" ? v : humanize(v)))
      .filter((t) => t !== "");
  }

  function attributeTags(attributes) {
    const tags = [];
    if (!attributes || typeof attributes !== "object") return tags;
    if (attributes.frame_size_cm !== undefined && attributes.frame_size_cm !== null) {
      tags.push(t("frame", { size: attributes.frame_size_cm }));
    }
    if (typeof attributes.cleat_system === "string") {
      const key = CLEAT_KEYS[attributes.cleat_system];
      tags.push(key ? t(key) : t("cleatOther", { name: humanize(attributes.cleat_system) }));
    }
    if (attributes.pedals_included === false) tags.push(t("noPedals"));
    return tags;
  }

  function renderItem(item, currency) {
    const role = ROLE_KEYS[item.role] ? item.role : "option";
    const meta = el("div", { class: "offer-item__meta" }, [
      el("span", { class: `tag tag--role-${role}`, "data-testid": "item-role", text: t(ROLE_KEYS[role]) }),
      ...attributeTags(item.attributes).map((t) =>
        el("span", { class: "tag", "data-testid": "item-attribute", text: t }),
      ),
    ]);
    if (typeof item.in_stock === "boolean") {
      meta.append(
        el("span", {
          class: item.in_stock ? "tag tag--stock" : "tag tag--no-stock",
          "data-testid": "stock-badge",
          text: item.in_stock ? t("inStock") : t("notInStock"),
        }),
      );
    }
    return el("li", { class: "offer-item", "data-testid": "offer-item" }, [
      el("div", { class: "offer-item__head" }, [
        el("span", { class: "offer-item__name", text: item.name || item.sku || "" }),
        el("span", { class: "offer-item__price", text: formatPrice(item.price, currency) }),
      ]),
      meta,
    ]);
  }

  let headingCounter = 0;
  function nextId(prefix) {
    headingCounter += 1;
    return `${prefix}-${headingCounter}`;
  }

  /**
   * Warn-but-allow notes on one offer ("a race geometry is less comfortable on long
   * rides"). The offer still stands, so they go inside the card, set apart in warning
   * colours, as a role="note" that screen readers announce as an aside to the card.
   */
  function renderAlerts(alerts) {
    const titleId = nextId("offer-alerts");
    return el("div", { class: "offer__alerts", role: "note", "data-testid": "offer-alerts", "aria-labelledby": titleId }, [
      el("p", { class: "offer__alerts-title", id: titleId, text: t("pleaseNote") }),
      el("ul", { class: "offer__alerts-list" }, alerts.map((a) => el("li", { text: a }))),
    ]);
  }

  function modelCount(count) {
    const n = Number(count);
    if (count === null || count === undefined || !Number.isInteger(n) || n < 0) return "";
    return n === 1 ? t("modelOne") : t("modelMany", { count: n });
  }

  /**
   * When no product met every wish, the engine lists ways out (which wishes to loosen)
   * with how many models each would give, and the cards show the applied one. Listing
   * all of them tells the shopper what was given up and what the other trade-offs
   * would be, so they can answer differently instead of guessing.
   * Returns null when there is nothing to list: a "Ways out:" with no lines helps no one.
   */
  function renderRelaxation(relaxation) {
    const choices = (Array.isArray(relaxation.choices) ? relaxation.choices : [])
      .filter((c) => c && typeof c === "object")
      .map((c) => ({ phrases: textList(c.relax), count: modelCount(c.count), applied: c.applied === true }))
      // Without phrases only internal filter ids are left, which mean nothing to a shopper.
      .filter((c) => c.phrases.length);
    if (!choices.length) return null;
    const leadId = nextId("relaxation");
    return el("section", { class: "relaxation", "data-testid": "relaxation", "aria-labelledby": leadId }, [
      el("p", { class: "relaxation__lead", id: leadId, text: t("relaxationLead") }),
      el("ul", { class: "relaxation__choices" }, choices.map((c) =>
        el("li", {
          class: c.applied ? "relaxation__choice relaxation__choice--applied" : "relaxation__choice",
          "data-testid": "relaxation-choice",
        }, [
          c.count ? `${c.phrases.join(t("relaxationAnd"))} ${EM_DASH} ${c.count}` : c.phrases.join(t("relaxationAnd")),
          // The mark is a word, not just a colour, so it is read out and survives high contrast.
          c.applied ? " " : null,
          c.applied ? el("span", { class: "tag tag--shown", text: t("relaxationShown") }) : null,
        ]),
      )),
    ]);
  }

  // Set by the widget: what "Choose this one" on a card does (report the click, say so).
  let onChoose = null;

  function renderOfferCard(offer, index) {
    const currency = offer.currency || "EUR";
    const rank = Number.isFinite(offer.rank) ? offer.rank : index + 1;
    const headingId = nextId("offer");
    const items = Array.isArray(offer.items) ? offer.items : [];
    const reasons = textList(offer.reasons);
    const alerts = textList(offer.alerts);
    const relaxed = Array.isArray(offer.relaxed) ? offer.relaxed : [];
    const card = el("article", { class: "offer", "data-testid": "offer-card", "aria-labelledby": headingId }, [
      el("h3", { class: "offer__title", id: headingId }, [
        el("span", { class: "offer__rank", text: `#${rank}` }),
        el("span", { text: offer.title || "" }),
      ]),
      el("p", { class: "offer__total", "data-testid": "offer-total" }, [
        `${t("total")} `,
        el("strong", { text: formatPrice(offer.total_price, currency) }),
      ]),
      el("ul", { class: "offer__items", "aria-label": t("included") },
        items.filter((i) => i && typeof i === "object").map((i) => renderItem(i, currency))),
    ]);
    if (reasons.length) {
      card.append(
        el("h4", { class: "offer__subtitle", text: t("whyThis") }),
        el("ul", { class: "offer__reasons", "data-testid": "offer-reasons" },
          reasons.map((r) => el("li", { text: r }))),
      );
    }
    if (alerts.length) card.append(renderAlerts(alerts));
    if (relaxed.length) {
      card.append(
        el("p", {
          class: "offer__relaxed",
          role: "note",
          "data-testid": "relaxed-note",
          text: t("relaxedNote", { wishes: relaxed.map(humanize).join(", ") }),
        }),
      );
    }
    const main = items.find((i) => i && i.role === "main") || items[0];
    if (onChoose && main && main.sku) {
      const choose = el("button", { type: "button", class: "offer__choose", "data-testid": "offer-choose", text: t("chooseLabel") });
      choose.addEventListener("click", () => onChoose(rank, main.sku, offer.title || "", choose));
      card.append(choose);
    }
    return card;
  }

  function renderCrossSell(entries, currency) {
    const headingId = nextId("cross-sell");
    return el("section", { class: "cross-sell", "data-testid": "cross-sell", "aria-labelledby": headingId }, [
      el("h3", { class: "cross-sell__title", id: headingId, text: t("crossSell") }),
      el("ul", { class: "cross-sell__list" }, entries.map((entry) =>
        el("li", { "data-testid": "cross-sell-item" }, [
          el("div", { class: "cross-sell__head" }, [
            el("span", { class: "cross-sell__name", text: entry.name || entry.sku || "" }),
            el("span", { text: formatPrice(entry.price, entry.currency || currency) }),
          ]),
          entry.reason ? el("p", { class: "cross-sell__reason", text: entry.reason }) : null,
        ]),
      )),
    ]);
  }

  function renderOffers(custom) {
    const offers = (Array.isArray(custom.offers) ? custom.offers : []).filter(
      (o) => o && typeof o === "object",
    );
    const crossSell = (Array.isArray(custom.cross_sell) ? custom.cross_sell : []).filter(
      (c) => c && typeof c === "object",
    );
    // The ways out come first: they explain why the cards below are not an exact match.
    const relaxation =
      custom.relaxation && typeof custom.relaxation === "object" ? renderRelaxation(custom.relaxation) : null;
    const section = el("section", { class: "offers", "data-testid": "offers", "aria-label": t("offersLabel") },
      [relaxation, ...offers.map(renderOfferCard)]);
    if (crossSell.length) {
      section.append(renderCrossSell(crossSell, offers.length ? offers[0].currency : "EUR"));
    }
    return section;
  }

  function appendLines(parent, text) {
    // Each newline-separated line is its own paragraph; blank lines keep their space.
    for (const line of String(text).split("\n")) {
      parent.append(el("p", { class: "msg__line", text: line }));
    }
  }

  function createWidget(root) {
    const log = root.querySelector("[data-chat-log]");
    const form = root.querySelector("[data-chat-form]");
    const input = form.querySelector("input");
    const sendButton = form.querySelector("button[type=submit]");
    const typing = root.querySelector("[data-chat-typing]");
    const body = root.querySelector(".chat__body");
    const toggle = root.querySelector("[data-chat-toggle]");
    const restart = root.querySelector("[data-chat-restart]");
    const endpoint = root.dataset.endpoint || "/api/chat";
    const historyEndpoint = root.dataset.historyEndpoint || `${endpoint}/history`;
    const language = widgetLanguage(root);
    const unavailable = t("unavailable");
    const eventsEndpoint = root.dataset.eventsEndpoint || `${endpoint}/events`;
    const leaveEndpoint = root.dataset.leaveEndpoint || `${endpoint}/message-for-staff`;
    const leaveTemplate = root.querySelector("[data-chat-leave-template]");
    const ratingTemplate = root.querySelector("[data-chat-rating-template]");
    const ratingEndpoint = root.dataset.ratingEndpoint || `${endpoint}/rating`;
    const clickEndpoint = root.dataset.clickEndpoint || `${endpoint}/click`;
    // One rating form per target on the page (the server keeps one rating per conversation).
    const ratingShown = new Set();
    const introNodes = Array.from(log.children, (n) => n.cloneNode(true));
    let busy = false;
    // The live hand-over: its event stream, and the last payload id shown.
    let liveSource = null;
    let lastLiveId = 0;
    const queuedShown = new Set();
    // Messages sent while the conversation so far is still loading wait for it, so
    // they land after it, in order, instead of being dropped.
    let historyReady = Promise.resolve(true);

    function scrollToEnd() {
      log.scrollTop = log.scrollHeight;
    }

    /**
     * Show a reply from its start: a tall one (offers) is read top-down, so jumping to
     * its end would hide the best offer. Short replies end up scrolled to the bottom,
     * because the browser clamps scrollTop.
     */
    function revealFrom(node) {
      if (node) log.scrollTop = node.offsetTop - 8;
    }

    function addBubble(kind, text, label, options) {
      const bubble = el("div", { class: `msg msg--${kind}`, "data-testid": `msg-${kind}` });
      if (label) bubble.append(el("p", { class: "msg__who", "data-testid": "msg-who", text: label }));
      appendLines(bubble, text);
      log.append(bubble);
      if (!(options && options.stay)) scrollToEnd();
      return bubble;
    }

    /** One of the widget's sentences with the payload's fields put in ("{staff} joined"). */
    function liveWords(name, payload) {
      return t(name, payload || {});
    }

    function stopLive() {
      if (liveSource) liveSource.close();
      liveSource = null;
      root.dataset.live = "off";
    }

    function startLive() {
      if (liveSource || typeof EventSource === "undefined") return;
      const url = new URL(eventsEndpoint, window.location.href);
      if (lastLiveId) url.searchParams.set("after", String(lastLiveId));
      const source = new EventSource(url.toString(), { withCredentials: true });
      liveSource = source;
      root.dataset.live = "listening";
      source.onmessage = (event) => {
        let payload = null;
        try {
          payload = JSON.parse(event.data);
        } catch (_err) {
          return;
        }
        renderLive(payload, false);
      };
      // The server ends a stream after a while (a couple of minutes) and says so:
      // open the next one at once, after the last payload shown, rather than wait for
      // the browser's retry delay. Nothing is lost either way (the server sends what
      // was missed), it only comes later.
      source.addEventListener("reconnect", () => {
        if (liveSource !== source) return;
        stopLive();
        startLive();
      });
      source.onerror = () => {
        // 204 (no hand-over any more) or the server gone: the browser stops or retries.
        if (source.readyState === EventSource.CLOSED && liveSource === source) stopLive();
      };
    }

    function showLeaveForm() {
      if (!leaveTemplate) return;
      for (const old of log.querySelectorAll("[data-chat-leave]")) old.remove();
      const form = leaveTemplate.content.firstElementChild.cloneNode(true);
      const problem = form.querySelector("[data-chat-leave-problem]");
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const fields = new FormData(form);
        const button = form.querySelector("button[type=submit]");
        button.disabled = true;
        problem.hidden = true;
        try {
          const response = await fetch(leaveEndpoint, {
            method: "POST",
            credentials: "same-origin",
            headers: { "Content-Type": "application/json", Accept: "application/json" },
            body: JSON.stringify({
              text: String(fields.get("text") || ""),
              email: String(fields.get("email") || ""),
              phone: String(fields.get("phone") || ""),
            }),
          });
          let data = null;
          try {
            data = await response.json();
          } catch (_err) {
            data = null;
          }
          if (!response.ok) {
            problem.textContent = data && typeof data.message === "string" ? data.message : unavailable;
            problem.hidden = false;
            return;
          }
          form.remove();
          addBubble("live", liveWords("liveThanks", {})).setAttribute("data-testid", "leave-thanks");
        } catch (_err) {
          problem.textContent = unavailable;
          problem.hidden = false;
        } finally {
          button.disabled = false;
        }
      });
      log.append(form);
      scrollToEnd();
    }

    /** A small JSON POST for what the widget reports beside the chat; the answer or null. */
    async function report(url, body) {
      try {
        const response = await fetch(url, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify(body),
        });
        let data = null;
        try {
          data = await response.json();
        } catch (_err) {
          data = null;
        }
        return { ok: response.ok, data };
      } catch (_err) {
        return { ok: false, data: null };
      }
    }

    onChoose = async (rank, sku, title, button) => {
      button.disabled = true;
      await report(clickEndpoint, { rank, sku });
      addBubble("bot", liveWords("chosen", { title })).setAttribute("data-testid", "offer-chosen");
      button.disabled = false;
    };

    /**
     * Ask how the advice was: after the offers (the bot) or after a live chat (staff).
     * Once per target on the page; the answer may be changed while the server allows.
     */
    function showRating(target, payload) {
      if (!ratingTemplate || ratingShown.has(target)) return;
      ratingShown.add(target);
      const rating = ratingTemplate.content.firstElementChild.cloneNode(true);
      rating.dataset.target = target;
      rating.querySelector("[data-rating-question]").textContent = liveWords(
        target === "staff" ? "ratingStaff" : "ratingBot",
        payload || {},
      );
      const status = rating.querySelector("[data-rating-status]");
      const button = rating.querySelector("button[type=submit]");
      rating.addEventListener("submit", async (event) => {
        event.preventDefault();
        const fields = new FormData(rating);
        button.disabled = true;
        const { ok, data } = await report(ratingEndpoint, {
          target,
          step: Number(fields.get("step")),
          comment: String(fields.get("comment") || ""),
        });
        status.textContent = data && typeof data.message === "string" ? data.message : unavailable;
        status.hidden = false;
        // Closed (409): the rating stands, nothing more to send.
        button.disabled = !ok && Boolean(data && data.error === "rating_closed");
        if (!ok && data && data.error === "rating_closed") {
          for (const input of rating.querySelectorAll("input, textarea")) input.disabled = true;
        }
      });
      log.append(rating);
    }

    /**
     * One payload of the hand-over. From the stream each is shown once (by id); from
     * the history (a reload) everything is shown, without the form's second chance.
     */
    function renderLive(payload, fromHistory) {
      if (!payload || typeof payload !== "object") return;
      const id = Number(payload.id);
      if (!fromHistory && Number.isFinite(id) && id <= lastLiveId) return;
      if (Number.isFinite(id) && id > lastLiveId) lastLiveId = id;
      switch (payload.type) {
        case "queued":
          // Once per request (a new place in the queue changes nothing to say). Right
          // after the reply that asked for a person, read from its start: no scroll.
          if (queuedShown.has(payload.handover)) break;
          queuedShown.add(payload.handover);
          addBubble("live", liveWords("liveQueued", payload), "", { stay: true });
          break;
        case "staff_joined":
          addBubble("live", liveWords("liveJoined", payload)).setAttribute("data-testid", "staff-joined");
          root.dataset.live = fromHistory ? root.dataset.live : "chat";
          break;
        case "staff_message":
          addBubble("staff", payload.text, payload.staff);
          break;
        case "shopper_message":
          // This browser showed it when it was sent; a reload shows it from the history.
          if (fromHistory) addBubble("user", payload.text);
          break;
        case "offer_card":
          addBubble("live", liveWords("liveOfferCard", payload));
          if (payload.offers && typeof payload.offers === "object") {
            const offers = renderOffers(payload.offers);
            offers.setAttribute("data-testid", "staff-offers");
            log.append(offers);
            revealFrom(offers);
          }
          break;
        case "handed_back":
          addBubble("live", liveWords("liveHandedBack", payload)).setAttribute("data-testid", "handed-back");
          if (!fromHistory) {
            stopLive();
            showRating("staff", payload);
          }
          break;
        case "closed":
          addBubble("live", liveWords("liveClosed", payload)).setAttribute("data-testid", "live-closed");
          if (!fromHistory) {
            stopLive();
            showRating("staff", payload);
          }
          break;
        case "nobody_available":
          addBubble(
            "live",
            liveWords(payload.reason === "outside_hours" ? "liveNobodyHours" : "liveNobodyTimeout", payload),
          ).setAttribute("data-testid", "nobody-available");
          if (!fromHistory) {
            stopLive();
            showLeaveForm();
          }
          break;
        default:
          break; // staff-only payloads never reach the widget
      }
    }

    /** Follow the hand-over the server describes ({"streaming", "may_leave_message"}). */
    function followLive(live, fromHistory) {
      if (!live || typeof live !== "object") return;
      // Streaming while a person is awaited or in the chat; once more for what ended meanwhile.
      if (live.streaming || Number(live.last_id) > lastLiveId) startLive();
      if (fromHistory && live.may_leave_message) showLeaveForm();
    }

    function renderChoices(buttons) {
      const group = el("div", { class: "choices", role: "group", "aria-label": t("suggested") });
      for (const button of buttons) {
        if (!button || typeof button.payload !== "string") continue;
        const title = typeof button.title === "string" && button.title ? button.title : button.payload;
        const node = el("button", { type: "button", class: "choice", "data-testid": "chat-button", text: title });
        node.addEventListener("click", () => {
          if (busy || node.disabled) return;
          node.classList.add("choice--picked");
          node.setAttribute("aria-pressed", "true");
          // Rasa gets the payload; the shopper sees the words they picked.
          send(button.payload, title).then((ok) => {
            if (!ok) {
              node.classList.remove("choice--picked");
              node.removeAttribute("aria-pressed");
            }
          });
        });
        group.append(node);
      }
      return group;
    }

    function renderBotMessage(message, fromHistory) {
      if (!message || typeof message !== "object") return;
      const hasText = typeof message.text === "string" && message.text !== "";
      const buttons = Array.isArray(message.buttons) ? message.buttons : [];
      if (hasText) addBubble("bot", message.text);
      if (buttons.length) log.append(renderChoices(buttons));
      const custom = message.custom;
      if (custom && typeof custom === "object" && custom.type === "offers") {
        log.append(renderOffers(custom));
        if (!fromHistory && Array.isArray(custom.offers) && custom.offers.length) showRating("bot");
      }
      // Other custom types (e.g. "handoff") have no view in this widget: show nothing.
    }

    function setBusy(value) {
      busy = value;
      sendButton.disabled = value;
      typing.hidden = !value;
      log.setAttribute("aria-busy", String(value));
      if (value) scrollToEnd();
    }

    /** Disable every answer button on screen; returns them so a failure can undo it. */
    function disableChoices() {
      const enabled = Array.from(log.querySelectorAll(".choice:not(:disabled)"));
      for (const b of enabled) b.disabled = true;
      return enabled;
    }

    /** One call to the web app; the parsed JSON of a 2xx answer, else a ChatError. */
    async function request(url, init) {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
      try {
        let response;
        try {
          response = await fetch(url, {
            ...init,
            headers: { ...(init.headers || {}), Accept: "application/json" },
            credentials: "same-origin",
            signal: controller.signal,
          });
        } catch (_err) {
          throw new ChatError(unavailable); // offline, or no answer in time
        }
        let data = null;
        try {
          data = await response.json();
        } catch (_err) {
          data = null;
        }
        if (!response.ok) {
          const text = data && typeof data.message === "string" ? data.message : unavailable;
          throw new ChatError(text);
        }
        if (!data || !Array.isArray(data.messages)) throw new ChatError(unavailable);
        return data;
      } finally {
        clearTimeout(timer);
      }
    }

    function post(message) {
      return request(endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        // The page's language goes with every message: the advisor answers in it.
        body: JSON.stringify({ message, metadata: { language } }),
      });
    }

    /**
     * Show the conversation so far (after a reload), as it looked: the shopper's words,
     * the bot's replies, and only the latest reply's buttons still clickable.
     * Resolves to true when it was shown (or there was none), false when it failed.
     */
    async function restoreHistory() {
      // Not setBusy: the shopper may type meanwhile (send waits for this).
      typing.hidden = false;
      log.setAttribute("aria-busy", "true");
      try {
        const data = await request(historyEndpoint, { method: "GET" });
        for (const message of data.messages) {
          if (!message || typeof message !== "object") continue;
          if (message.live && typeof message.live === "object") {
            const id = Number(message.live.id);
            if (Number.isFinite(id) && id > lastLiveId) lastLiveId = id;
          }
          if (message.from === "shopper") {
            disableChoices();
            if (typeof message.text === "string" && message.text) addBubble("user", message.text);
          } else if (message.from === "bot") {
            renderBotMessage(message, true);
          } else if (message.from === "staff") {
            addBubble("staff", message.text, message.staff);
          } else if (message.from === "live") {
            renderLive(message.live, true);
          }
        }
        scrollToEnd();
        followLive(data.live, true);
        return true;
      } catch (err) {
        addBubble("system", err instanceof ChatError ? err.message : unavailable);
        return false;
      } finally {
        typing.hidden = !busy;
        log.setAttribute("aria-busy", String(busy));
      }
    }

    /**
     * Send one message and render the replies. Returns true when the advisor answered.
     * On failure the conversation stays as it was, plus a system bubble saying so.
     */
    async function send(message, shown, options) {
      const opts = options || {};
      await historyReady;
      if (busy) return false;
      const disabled = disableChoices();
      if (!opts.silent) addBubble("user", shown);
      setBusy(true);
      try {
        const data = await post(message);
        if (opts.beforeRender) opts.beforeRender();
        const firstNew = log.children.length;
        data.messages.forEach((m) => renderBotMessage(m, false));
        revealFrom(log.children[firstNew]);
        followLive(data.live, false);
        return true;
      } catch (err) {
        // Nothing was answered, so the choices on screen still stand.
        for (const b of disabled) b.disabled = false;
        addBubble("system", err instanceof ChatError ? err.message : unavailable);
        return false;
      } finally {
        setBusy(false);
      }
    }

    function expand() {
      body.hidden = false;
      root.classList.remove("chat--collapsed");
      toggle.setAttribute("aria-expanded", "true");
      toggle.textContent = t("minimise");
    }

    function collapse() {
      body.hidden = true;
      root.classList.add("chat--collapsed");
      toggle.setAttribute("aria-expanded", "false");
      toggle.textContent = t("open");
    }

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (!text || busy) return;
      input.value = "";
      send(text, text).then((ok) => {
        if (!ok && !input.value) input.value = text; // let the shopper resend without retyping
      });
      input.focus();
    });

    restart.addEventListener("click", () => {
      send("/restart", "", {
        silent: true,
        beforeRender: () => log.replaceChildren(...introNodes.map((n) => n.cloneNode(true))),
      });
    });

    toggle.addEventListener("click", () => (body.hidden ? expand() : collapse()));

    setUpPrivacyMenu();

    /**
     * The "Your data" menu: download the conversation (a plain link: the cookie goes with
     * it), delete it (asks first), the privacy page. Its words are in the template.
     */
    function setUpPrivacyMenu() {
      const menuToggle = root.querySelector("[data-chat-menu-toggle]");
      const menu = root.querySelector("[data-chat-menu]");
      const confirmBox = root.querySelector("[data-chat-erase-confirm]");
      if (!menuToggle || !menu || !confirmBox) return;
      const setMenu = (open) => {
        menu.hidden = !open;
        menuToggle.setAttribute("aria-expanded", String(open));
        if (!open) confirmBox.hidden = true;
      };
      menuToggle.addEventListener("click", () => setMenu(menu.hidden));
      for (const link of menu.querySelectorAll("a")) link.addEventListener("click", () => setMenu(false));
      root.querySelector("[data-chat-erase]").addEventListener("click", () => {
        confirmBox.hidden = false;
        confirmBox.querySelector("[data-chat-erase-yes]").focus();
      });
      root.querySelector("[data-chat-erase-no]").addEventListener("click", () => {
        setMenu(false);
        menuToggle.focus();
      });
      root.querySelector("[data-chat-erase-yes]").addEventListener("click", async () => {
        await historyReady;
        if (busy) return;
        setBusy(true);
        let erased = false;
        try {
          const response = await fetch(confirmBox.dataset.endpoint, {
            method: "POST",
            headers: { "Content-Type": "application/json", Accept: "application/json" },
            credentials: "same-origin",
            body: JSON.stringify({ confirm: true }),
          });
          erased = response.ok;
        } catch (_err) {
          erased = false;
        } finally {
          setBusy(false);
        }
        setMenu(false);
        if (erased) {
          // Nothing of the old conversation stays on screen: the widget starts afresh.
          stopLive();
          lastLiveId = 0;
          queuedShown.clear();
          ratingShown.clear();
          log.replaceChildren(...introNodes.map((n) => n.cloneNode(true)));
        }
        addBubble("system", erased ? confirmBox.dataset.erasedText : confirmBox.dataset.failedText);
        input.focus();
      });
      document.addEventListener("keydown", (event) => {
        if (event.key === "Escape" && !menu.hidden) {
          setMenu(false);
          menuToggle.focus();
        }
      });
    }

    // Category tiles and the hero button start the conversation with their prompt.
    for (const link of document.querySelectorAll("[data-chat-prompt]")) {
      link.addEventListener("click", (event) => {
        event.preventDefault();
        expand();
        if (!busy) send(link.dataset.chatPrompt, link.dataset.chatPrompt);
        input.focus();
      });
    }

    // The conversation so far first; then a page for a configuration staff shared
    // (/s/CODE), which carries its code, has the advisor load that configuration, so
    // the shopper goes on from there.
    const resumeCode = resumeCodeOf(root);
    historyReady = restoreHistory();
    historyReady.then(() => {
      if (resumeCode) {
        send(`/resume_shared${JSON.stringify({ code: resumeCode })}`, "", { silent: true });
      }
    });
  }

  /** The share code on the widget, upper-cased, or "" when there is none or it is malformed. */
  function resumeCodeOf(root) {
    const code = String(root.dataset.resumeCode || "").toUpperCase().replace(/[\s_.-]/g, "");
    return RESUME_CODE_PATTERN.test(code) ? code : "";
  }

  async function init() {
    forgetLegacySenderId();
    for (const root of document.querySelectorAll("[data-chat-widget]")) {
      STRINGS = await loadStrings(root, widgetLanguage(root));
      createWidget(root);
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
