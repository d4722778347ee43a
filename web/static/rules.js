/* The rule editor (/admin/rules/<id>): source with line numbers and inline findings,
   checked as you type; the everyday-edits form; save with the revision it is based on;
   persona tests, outcome diff and the preview chat on the files as typed.
   No text for people lives here: every sentence comes from the server's templates. */
(function () {
  "use strict";

  var root = document.getElementById("rules-editor");
  if (!root) { return; }
  var ruleset = root.getAttribute("data-ruleset");
  var base = "/admin/rules/" + encodeURIComponent(ruleset) + "/";
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";
  var basedOn = parseInt(root.getAttribute("data-based-on"), 10) || 0;
  var editors = Array.prototype.slice.call(root.querySelectorAll(".rules-editor"));
  var savedFiles = files();
  var checkTimer = null;
  var checkSeq = 0;
  var previewState = null;
  var currentFindings = [];
  var CHECK_DELAY_MS = 400;

  function files() {
    var out = {};
    editors.forEach(function (ed) {
      out[ed.getAttribute("data-file")] = ed.querySelector("textarea").value;
    });
    return out;
  }

  function dirty() {
    var now = files();
    return Object.keys(now).some(function (k) { return now[k] !== savedFiles[k]; });
  }

  function post(action, body) {
    return fetch(base + action, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (data) { return { status: response.status, data: data }; });
    });
  }

  function html(target, markup) {
    // Markup comes from our own server-side templates (autoescaped).
    target.innerHTML = markup;
  }

  /* -- the source editor: gutter, marks, tabs ------------------------------------ */

  function lineCount(text) { return text.split("\n").length; }

  function renderGutter(ed, findings) {
    var text = ed.querySelector("textarea").value;
    var name = ed.getAttribute("data-file");
    var byLine = {};
    findings.forEach(function (f) {
      if (f.file === name) { (byLine[f.line] = byLine[f.line] || []).push(f); }
    });
    var gutter = ed.querySelector(".rules-editor__gutter");
    var marks = ed.querySelector(".rules-editor__marks");
    gutter.textContent = "";
    marks.textContent = "";
    var n = lineCount(text);
    for (var i = 1; i <= n; i++) {
      var num = document.createElement("span");
      num.className = "rules-editor__num";
      num.setAttribute("data-line", String(i));
      num.textContent = String(i);
      if (byLine[i]) {
        num.className += " rules-editor__num--finding";
        num.title = byLine[i].map(function (f) { return f.message; }).join("\n");
        var mark = document.createElement("div");
        mark.className = "rules-editor__mark";
        mark.style.top = "calc(" + (i - 1) + " * var(--rules-line) + var(--rules-pad))";
        var note = document.createElement("span");
        note.className = "rules-editor__inline";
        note.setAttribute("data-testid", "inline-finding");
        note.setAttribute("data-line", String(i));
        note.textContent = byLine[i].map(function (f) {
          return f.message + (f.suggestion ? " → " + f.suggestion : "");
        }).join("; ");
        mark.appendChild(note);
        marks.appendChild(mark);
      }
      gutter.appendChild(num);
      gutter.appendChild(document.createTextNode("\n"));
    }
    syncScroll(ed);
  }

  function syncScroll(ed) {
    var area = ed.querySelector("textarea");
    ed.querySelector(".rules-editor__gutter").scrollTop = area.scrollTop;
    var marks = ed.querySelector(".rules-editor__marks");
    marks.style.transform = "translateY(" + (-area.scrollTop) + "px)";
  }

  function showTab(name) {
    root.querySelectorAll(".rules-tabs__tab").forEach(function (tab) {
      tab.setAttribute("aria-selected", tab.getAttribute("data-file") === name ? "true" : "false");
    });
    editors.forEach(function (ed) { ed.hidden = ed.getAttribute("data-file") !== name; });
  }

  function goTo(name, line) {
    showTab(name);
    var ed = editors.filter(function (e) { return e.getAttribute("data-file") === name; })[0];
    if (!ed) { return; }
    var area = ed.querySelector("textarea");
    var lines = area.value.split("\n");
    var start = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) { start += lines[i].length + 1; }
    area.focus();
    area.setSelectionRange(start, start + (lines[line - 1] || "").length);
    var lineHeight = parseFloat(getComputedStyle(area).lineHeight) || 20;
    area.scrollTop = Math.max(0, (line - 4) * lineHeight);
    syncScroll(ed);
  }

  var findingsList = document.getElementById("findings");
  var findingsNone = document.getElementById("findings-none");
  var findingsCount = document.getElementById("findings-count");

  function showFindings(findings) {
    currentFindings = findings;
    editors.forEach(function (ed) { renderGutter(ed, findings); });
    findingsList.textContent = "";
    findings.forEach(function (f) {
      var li = document.createElement("li");
      li.className = "rules-findings__item";
      li.setAttribute("data-testid", "finding");
      li.setAttribute("data-file", f.file);
      li.setAttribute("data-line", String(f.line));
      var a = document.createElement("a");
      a.href = "#";
      a.className = "rules-findings__where";
      a.setAttribute("data-file", f.file);
      a.setAttribute("data-line", String(f.line));
      var code = document.createElement("code");
      code.textContent = f.file + ":" + f.line + ":" + f.column;
      a.appendChild(code);
      li.appendChild(a);
      li.appendChild(document.createTextNode(" " + f.message));
      if (f.suggestion) {
        var hint = document.createElement("code");
        hint.setAttribute("data-testid", "suggestion");
        hint.textContent = f.suggestion;
        var did = document.createElement("span");
        did.className = "rules-findings__hint";
        did.textContent = findingsList.getAttribute("data-did-you-mean") + " ";
        did.appendChild(hint);
        did.appendChild(document.createTextNode("?"));
        li.appendChild(document.createTextNode(" "));
        li.appendChild(did);
      }
      findingsList.appendChild(li);
    });
    findingsCount.textContent = String(findings.length);
    findingsNone.hidden = findings.length > 0;
    root.querySelectorAll(".rules-tabs__count").forEach(function (badge) {
      var name = badge.getAttribute("data-count");
      var n = findings.filter(function (f) { return f.file === name; }).length;
      badge.textContent = n ? String(n) : "";
    });
  }

  function initialFindings() {
    return Array.prototype.map.call(findingsList.querySelectorAll("[data-testid=finding]"), function (li) {
      var hint = li.querySelector("[data-testid=suggestion]");
      return {
        file: li.getAttribute("data-file"),
        line: parseInt(li.getAttribute("data-line"), 10),
        column: parseInt(li.getAttribute("data-column"), 10) || 1,
        message: li.getAttribute("data-message") || "",
        suggestion: hint ? hint.textContent : null
      };
    });
  }

  function check() {
    var seq = ++checkSeq;
    root.setAttribute("data-checking", "true");
    post("check", { files: files() }).then(function (result) {
      if (seq !== checkSeq) { return; }  // a newer check is on its way
      root.setAttribute("data-checking", "false");
      if (result.status === 200) {
        showFindings(result.data.findings);
        document.getElementById("newer").hidden = result.data.revision === basedOn;
      }
    });
  }

  function scheduleCheck() {
    clearTimeout(checkTimer);
    root.setAttribute("data-checking", "true");
    checkTimer = setTimeout(check, CHECK_DELAY_MS);
    markDirty();
  }

  var saveMessage = document.getElementById("save-message");
  var staleBox = document.getElementById("stale");

  function markDirty() {
    var unsaved = dirty();
    root.setAttribute("data-dirty", unsaved ? "true" : "false");
    if (unsaved) { saveMessage.textContent = saveMessage.getAttribute("data-unsaved") || ""; }
  }

  function setRevision(revision) {
    basedOn = revision;
    root.setAttribute("data-based-on", String(revision));
    root.querySelectorAll(".js-based-on").forEach(function (input) { input.value = String(revision); });
  }

  function save() {
    saveMessage.textContent = "";
    var sending = files();
    return post("draft", { files: sending, based_on: basedOn, language: language() }).then(function (result) {
      if (result.status === 200) {
        savedFiles = sending;
        setRevision(result.data.revision);
        html(document.getElementById("draft-status"), result.data.status_html);
        html(document.getElementById("publish-box"), result.data.publish_html);
        if (!formPending()) { replaceForm(result.data.form_html); }  // the form follows the source
        staleBox.hidden = true;
        document.getElementById("newer").hidden = true;
        showFindings(result.data.findings);
        saveMessage.textContent = saveMessage.getAttribute("data-saved") || "";
        root.setAttribute("data-saved-revision", String(result.data.revision));
        markDirty();
        return true;
      }
      if (result.status === 409) {
        html(staleBox, result.data.html);
        staleBox.hidden = false;
        staleBox.scrollIntoView({ block: "center" });
      }
      return false;
    });
  }

  editors.forEach(function (ed) {
    var area = ed.querySelector("textarea");
    area.addEventListener("input", function () { renderGutter(ed, currentFindings); scheduleCheck(); });
    area.addEventListener("scroll", function () { syncScroll(ed); });
    area.addEventListener("keydown", function (event) {
      if (event.key === "Tab" && !event.shiftKey && !event.ctrlKey && !event.altKey) {
        event.preventDefault();  // two spaces, as YAML wants
        var start = area.selectionStart;
        area.setRangeText("  ", start, area.selectionEnd, "end");
        scheduleCheck();
      }
    });
  });
  showFindings(initialFindings());

  root.querySelectorAll(".rules-tabs__tab").forEach(function (tab) {
    tab.addEventListener("click", function () { showTab(tab.getAttribute("data-file")); });
  });
  findingsList.addEventListener("click", function (event) {
    var link = event.target.closest(".rules-findings__where");
    if (!link) { return; }
    event.preventDefault();
    goTo(link.getAttribute("data-file"), parseInt(link.getAttribute("data-line"), 10));
  });
  document.getElementById("save").addEventListener("click", function () { save(); });
  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && event.key === "s") { event.preventDefault(); save(); }
  });
  window.addEventListener("beforeunload", function (event) {
    if (dirty()) { event.preventDefault(); event.returnValue = ""; }
  });

  /* -- the everyday-edits form ------------------------------------------------- */

  var form = document.getElementById("rules-form");
  var formFields = document.getElementById("rules-form-fields");
  var formMessage = document.getElementById("form-message");
  var formLanguage = document.getElementById("rules-form-language");

  function language() { return formLanguage ? formLanguage.value : "en"; }

  function setFiles(newFiles) {
    editors.forEach(function (ed) {
      var name = ed.getAttribute("data-file");
      if (Object.prototype.hasOwnProperty.call(newFiles, name)) {
        ed.querySelector("textarea").value = newFiles[name];
      }
    });
  }

  function formPending() {
    return Array.prototype.some.call(form.querySelectorAll(".js-edit"), function (input) {
      return input.value !== input.getAttribute("data-original");
    });
  }

  function replaceForm(markup) {
    var open = Array.prototype.map.call(formFields.querySelectorAll("details[open]"), function (d) {
      return d.getAttribute("data-question");
    });
    html(formFields, markup);
    open.forEach(function (id) {
      var details = formFields.querySelector('details[data-question="' + id + '"]');
      if (details) { details.open = true; }
    });
  }

  function applyEdits(edits) {
    formMessage.textContent = "";
    if (!edits.length) { return Promise.resolve(false); }
    return post("edit", { files: files(), edits: edits, language: language() }).then(function (result) {
      if (result.status !== 200) {
        formMessage.textContent = result.data.message || "";
        formMessage.className = "rules__message rules__message--error";
        return false;
      }
      setFiles(result.data.files);
      replaceForm(result.data.form_html);
      return save();
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var edits = [];
    form.querySelectorAll(".js-edit").forEach(function (input) {
      if (input.value === input.getAttribute("data-original")) { return; }
      edits.push({
        kind: input.getAttribute("data-kind"),
        question: input.getAttribute("data-question") || "",
        option: input.getAttribute("data-option") || "",
        key: input.getAttribute("data-key") || "",
        index: parseInt(input.getAttribute("data-index") || "-1", 10),
        value: input.value,
        language: language()
      });
    });
    applyEdits(edits);
  });
  if (formLanguage) {
    // Another language: the same form with that language's texts and synonyms.
    formLanguage.addEventListener("change", function () {
      post("edit", { files: files(), edits: [], language: language() }).then(function (result) {
        if (result.status === 200) { replaceForm(result.data.form_html); }
      });
    });
  }
  formFields.addEventListener("click", function (event) {
    var button = event.target.closest(".js-move");
    if (!button) { return; }
    applyEdits([{ kind: "move_question", question: button.getAttribute("data-question"), value: button.getAttribute("data-value") }]);
  });

  /* -- try: personas, diff, preview ------------------------------------------------ */

  function tryOut(button, action, target) {
    button.disabled = true;
    target.setAttribute("aria-busy", "true");
    post(action, { files: files() }).then(function (result) {
      html(target, result.data.html || "");
    }).finally(function () {
      button.disabled = false;
      target.setAttribute("aria-busy", "false");
    });
  }
  var personasButton = document.getElementById("run-personas");
  personasButton.addEventListener("click", function () {
    tryOut(personasButton, "personas", document.getElementById("personas"));
  });
  var diffButton = document.getElementById("run-diff");
  diffButton.addEventListener("click", function () {
    tryOut(diffButton, "diff", document.getElementById("diff"));
  });

  var previewLog = document.getElementById("preview-log");
  var previewInput = document.getElementById("preview-input");

  function previewTurn(body, said) {
    if (said) {
      var mine = document.createElement("div");
      mine.className = "rules-preview__bubble rules-preview__bubble--me";
      mine.setAttribute("data-testid", "preview-me");
      mine.textContent = said;
      previewLog.appendChild(mine);
    }
    body.files = files();
    body.state = previewState;
    previewLog.setAttribute("aria-busy", "true");
    return post("preview", body).then(function (result) {
      var turn = document.createElement("div");
      turn.className = "rules-preview__turn";
      html(turn, result.data.html || "");
      previewLog.appendChild(turn);
      if (result.status === 200) { previewState = result.data.state; }
      previewLog.scrollTop = previewLog.scrollHeight;
    }).finally(function () { previewLog.setAttribute("aria-busy", "false"); });
  }

  document.getElementById("preview-start").addEventListener("click", function () {
    previewState = null;
    previewLog.textContent = "";
    previewTurn({}, null);
  });
  document.getElementById("preview-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var text = previewInput.value.trim();
    if (!text) { return; }
    previewInput.value = "";
    if (previewState === null) {
      previewTurn({}, null).then(function () { previewTurn({ text: text, intent: null }, text); });
    } else {
      previewTurn({ text: text, intent: null }, text);
    }
  });
  previewLog.addEventListener("click", function (event) {
    var button = event.target.closest(".rules-preview__choice");
    if (!button) { return; }
    var entities = {};
    try { entities = JSON.parse(button.getAttribute("data-entities") || "{}"); } catch (e) { entities = {}; }
    previewTurn({ text: button.textContent, intent: button.getAttribute("data-intent"), entities: entities }, button.textContent);
  });

  root.setAttribute("data-ready", "true");
})();
