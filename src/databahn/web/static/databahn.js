/* Databahn progressive enhancement: pages work without this file.
 * - drag-and-drop + file input -> resumable chunked uploads through the JSON API, per-file progress
 * - search-as-you-type suggestions (ontology terms and keywords)
 * - small conveniences: auto-submit sort, confirm destructive forms
 * Every unsafe JSON call sends the session's CSRF token in X-CSRF-Token.
 */
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var CSRF = csrfMeta ? csrfMeta.content : "";

  function api(method, url, body, headers) {
    var h = Object.assign({ "X-CSRF-Token": CSRF, "Accept": "application/json" }, headers || {});
    var init = { method: method, headers: h, credentials: "same-origin" };
    if (body !== undefined) {
      if (body instanceof Blob || body instanceof ArrayBuffer) { init.body = body; }
      else { init.body = JSON.stringify(body); h["Content-Type"] = "application/json"; }
    }
    return fetch(url, init).then(function (resp) {
      return resp.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = { detail: text }; }
        if (!resp.ok) {
          var err = new Error((data && data.detail) || ("HTTP " + resp.status));
          err.status = resp.status; err.data = data || {};
          throw err;
        }
        return data;
      });
    });
  }

  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function chunkSha256(blob) {
    if (!(window.crypto && window.crypto.subtle)) { return Promise.resolve(null); }
    return blob.arrayBuffer().then(function (buf) { return crypto.subtle.digest("SHA-256", buf); }).then(hex);
  }

  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }

  function formatBytes(n) {
    var units = ["B", "KB", "MB", "GB", "TB"], i = 0;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
    return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
  }

  /* One file: start (or resume) an upload, send chunks with checksums, retry from the server's offset. */
  function uploadFile(pid, file, chunkSize, row) {
    var key = file.name;
    var progress = row.querySelector("progress");
    var status = row.querySelector(".status");
    function show(offset) {
      progress.value = file.size ? offset / file.size : 1;
      status.textContent = formatBytes(offset) + " of " + formatBytes(file.size);
    }
    return api("POST", "/api/datasets/" + encodeURIComponent(pid) + "/uploads", { key: key, size: file.size })
      .then(function (state) {
        var id = state.id;
        var size = Math.max(256 * 1024, Math.min(chunkSize || state.chunk_size || 8388608, 64 * 1024 * 1024));
        var offset = state.offset || 0;
        var failures = 0;
        show(offset);
        function next() {
          if (offset >= file.size) {
            status.textContent = "checking…";
            return api("POST", "/api/uploads/" + encodeURIComponent(id) + "/complete");
          }
          var blob = file.slice(offset, Math.min(offset + size, file.size));
          return chunkSha256(blob).then(function (digest) {
            var headers = { "Content-Type": "application/octet-stream" };
            if (digest) { headers["X-Chunk-Sha256"] = digest; }
            return api("PUT", "/api/uploads/" + encodeURIComponent(id) + "?offset=" + offset, blob, headers);
          }).then(function (st) {
            failures = 0; offset = st.offset; show(offset); return next();
          }, function (err) {
            failures++;
            if (err.data && typeof err.data.offset === "number" && failures <= 5) {
              offset = err.data.offset; return next();  // the server says where to resume
            }
            if ((!err.status || err.status >= 500) && failures <= 5) {
              status.textContent = "connection problem, retrying…";
              return sleep(500 * failures).then(function () {
                return api("GET", "/api/uploads/" + encodeURIComponent(id));
              }).then(function (st) { offset = st.offset; return next(); }, function () { return next(); });
            }
            throw err;
          });
        }
        return next();
      });
  }

  function setupUploads(form) {
    var pid = form.getAttribute("data-upload-pid");
    var chunkSize = parseInt(form.getAttribute("data-chunk-size"), 10) || 8388608;
    var input = form.querySelector('input[type="file"]');
    var zone = form.querySelector("[data-dropzone]");
    var list = form.querySelector("[data-upload-list]");
    var queue = [], running = 0, failed = 0, done = 0, MAX_PARALLEL = 2;

    function addRow(file) {
      var li = document.createElement("li");
      var name = document.createElement("span"); name.className = "name"; name.textContent = file.name;
      var progress = document.createElement("progress"); progress.max = 1; progress.value = 0;
      progress.setAttribute("aria-label", "Upload progress of " + file.name);
      var status = document.createElement("span"); status.className = "status"; status.textContent = "waiting";
      li.appendChild(name); li.appendChild(progress); li.appendChild(status);
      list.appendChild(li);
      return li;
    }

    function pump() {
      while (running < MAX_PARALLEL && queue.length) {
        (function (job) {
          running++;
          uploadFile(pid, job.file, chunkSize, job.row).then(function () {
            done++;
            var st = job.row.querySelector(".status");
            st.textContent = "uploaded"; st.className = "status done";
            job.row.querySelector("progress").value = 1;
          }, function (err) {
            failed++;
            var st = job.row.querySelector(".status");
            st.textContent = "failed: " + err.message; st.className = "status failed";
          }).then(function () {
            running--;
            if (!running && !queue.length) {
              if (!failed) { window.location.reload(); }
              else { list.insertAdjacentHTML("beforeend", '<li><a href="">Reload the page</a> to see the stored files.</li>'); }
            } else { pump(); }
          });
        })(queue.shift());
      }
    }

    function enqueue(files) {
      failed = 0;
      Array.prototype.forEach.call(files, function (file) { queue.push({ file: file, row: addRow(file) }); });
      pump();
    }

    input.addEventListener("change", function () { if (input.files.length) { enqueue(input.files); } });
    form.addEventListener("submit", function (ev) { ev.preventDefault(); if (input.files.length) { enqueue(input.files); } });
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (ev) { ev.preventDefault(); zone.classList.add("dragover"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function (ev) { ev.preventDefault(); zone.classList.remove("dragover"); });
    });
    zone.addEventListener("drop", function (ev) {
      if (ev.dataTransfer && ev.dataTransfer.files.length) { enqueue(ev.dataTransfer.files); }
    });
  }

  /* Suggestions: an ARIA combobox over /suggest; for comma lists only the last entry is completed. */
  var suggestCount = 0;
  function setupSuggest(input) {
    var box = document.createElement("ul");
    var id = "suggest-" + (++suggestCount);
    box.id = id; box.className = "suggestions"; box.setAttribute("role", "listbox"); box.hidden = true;
    input.parentNode.appendChild(box);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", id);
    var list = input.name === "keywords";
    var timer = null, active = -1, items = [];

    function current() {
      return list ? input.value.split(",").pop().trim() : input.value.trim();
    }
    function close() { box.hidden = true; input.setAttribute("aria-expanded", "false"); active = -1; }
    function choose(i) {
      var label = items[i].label;
      if (list) {
        var parts = input.value.split(",");
        parts[parts.length - 1] = (parts.length > 1 ? " " : "") + label;
        input.value = parts.join(",") + ", ";
      } else { input.value = label; }
      close(); input.focus();
    }
    function highlight() {
      Array.prototype.forEach.call(box.children, function (li, i) {
        li.setAttribute("aria-selected", i === active ? "true" : "false");
        if (i === active) { input.setAttribute("aria-activedescendant", li.id); }
      });
    }
    function render(data) {
      items = data.suggestions || [];
      box.innerHTML = "";
      items.forEach(function (s, i) {
        var li = document.createElement("li");
        li.id = id + "-" + i; li.setAttribute("role", "option");
        var label = document.createElement("span"); label.textContent = s.label;
        var kind = document.createElement("span"); kind.className = "kind";
        kind.textContent = s.kind === "term" ? "ontology term" : s.kind;
        li.appendChild(label); li.appendChild(kind);
        li.addEventListener("mousedown", function (ev) { ev.preventDefault(); choose(i); });
        box.appendChild(li);
      });
      box.hidden = !items.length;
      input.setAttribute("aria-expanded", items.length ? "true" : "false");
      active = -1;
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var q = current();
      if (q.length < 2) { close(); return; }
      timer = setTimeout(function () {
        fetch("/suggest?q=" + encodeURIComponent(q), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : { suggestions: [] }; })
          .then(render, close);
      }, 150);
    });
    input.addEventListener("keydown", function (ev) {
      if (box.hidden) { return; }
      if (ev.key === "ArrowDown") { active = Math.min(active + 1, items.length - 1); highlight(); ev.preventDefault(); }
      else if (ev.key === "ArrowUp") { active = Math.max(active - 1, 0); highlight(); ev.preventDefault(); }
      else if (ev.key === "Enter" && active >= 0) { choose(active); ev.preventDefault(); }
      else if (ev.key === "Escape") { close(); ev.preventDefault(); }
    });
    input.addEventListener("blur", function () { setTimeout(close, 100); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.getElementById("error-summary");
    if (summary) { summary.focus(); }
    document.querySelectorAll("form[data-upload-pid]").forEach(setupUploads);
    document.querySelectorAll("input[data-suggest]").forEach(setupSuggest);
    document.querySelectorAll("select[data-autosubmit]").forEach(function (sel) {
      sel.addEventListener("change", function () { sel.form.submit(); });
    });
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { ev.preventDefault(); }
      });
    });
  });
})();
