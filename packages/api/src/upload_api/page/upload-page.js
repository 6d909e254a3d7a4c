// The submitter's upload page, on the API's upload sessions (docs/browser-upload.md). No framework,
// no build step, no external request: the Content-Security-Policy allows this script and the API alone
// (and the store's origin, where presigned part URLs point).
"use strict";

(() => {
  const PARALLEL_PARTS = 3;
  const MAX_ATTEMPTS = 8; // per request, on network errors and 5xx/429; then the upload stops with the error
  const POLL_MS = 2000;
  // The declared sha256 makes a wrong resume (another file of the same name and size) end CORRUPT; it
  // reads the whole file into memory, so only files up to this size declare one.
  const SHA256_MAX_BYTES = 512 * 1024 * 1024;

  const $ = (id) => document.getElementById(id);
  const areaMatch = location.pathname.match(/^\/v2\/areas\/([^/]+)\/page\/?$/);
  const area = areaMatch ? decodeURIComponent(areaMatch[1]) : "";
  const token = new URLSearchParams(location.hash.slice(1)).get("link") || "";
  const base = `/v2/areas/${encodeURIComponent(area)}`;

  class ApiError extends Error {
    constructor(message, status, retryable, retryAfter) {
      super(message);
      this.status = status;
      this.retryable = retryable;
      this.retryAfter = retryAfter;
    }
  }

  // --- requests --------------------------------------------------------------------------------

  // The response's text, or an ApiError with the problem's detail.
  async function request(method, path, body) {
    const headers = { "Submitter-Link": token, Accept: "application/json, application/x-ndjson, application/problem+json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
      });
    } catch (error) {
      throw new ApiError("the connection to the server failed", 0, true);
    }
    const text = await response.text();
    if (!response.ok) {
      let problem = null;
      try {
        problem = JSON.parse(text);
      } catch (error) {
        problem = null;
      }
      const detail = (problem && (problem.detail || problem.title)) || `HTTP ${response.status}`;
      const retryable = response.status >= 500 || response.status === 429;
      throw new ApiError(detail, response.status, retryable, Number(response.headers.get("Retry-After")) || 0);
    }
    return text;
  }

  async function api(method, path, body) {
    const text = await request(method, path, body);
    return text ? JSON.parse(text) : null;
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  async function backoff(attempt, error) {
    const wait = error && error.retryAfter ? error.retryAfter * 1000 : Math.min(30000, 1000 * 2 ** attempt);
    await sleep(wait * (0.5 + Math.random() / 2));
    if (!navigator.onLine) {
      setStatus("Offline: uploads continue when the connection is back.");
      await new Promise((resolve) => window.addEventListener("online", resolve, { once: true }));
    }
  }

  async function retrying(what, action) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await action();
      } catch (error) {
        if (!(error instanceof ApiError) || !error.retryable || attempt + 1 >= MAX_ATTEMPTS) throw error;
        setStatus(`${what}: ${error.message}; retrying…`);
        await backoff(attempt, error);
      }
    }
  }

  // PUT one part's bytes where the API said, with exactly its headers and no link (the URL is the
  // authority). XHR, for upload progress.
  function putPart(target, blob, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(target.method || "PUT", target.url);
      for (const [name, value] of Object.entries(target.headers || {})) xhr.setRequestHeader(name, value);
      xhr.upload.onprogress = (event) => onProgress(event.loaded);
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) return resolve();
        let detail = `the part was refused (HTTP ${xhr.status})`;
        try {
          const problem = JSON.parse(xhr.responseText);
          if (problem && problem.detail) detail = problem.detail;
        } catch (error) {
          // S3 answers XML; the status says enough
        }
        // 403 from the store: the URL expired meanwhile; a new one is asked for on retry.
        const retryable = xhr.status >= 500 || xhr.status === 429 || xhr.status === 403;
        reject(new ApiError(detail, xhr.status, retryable, 0));
      };
      xhr.onerror = () => reject(new ApiError("the connection dropped while sending a part", 0, true));
      xhr.ontimeout = xhr.onerror;
      xhr.send(blob);
    });
  }

  // --- the page's state ------------------------------------------------------------------------

  const queue = [];
  let running = false;
  const incomplete = new Map(); // "name\u0000size" → session (OPEN sessions listed at load)
  const uploaded = new Map(); // name → {row, label}: finished uploads, whose checksum state the poll shows

  function setStatus(text) {
    $("status").textContent = text;
  }

  function showError(text) {
    const box = $("error");
    box.textContent = text;
    box.hidden = !text;
  }

  function formatSize(bytes) {
    const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${units[unit]}`;
  }

  function uploadRow(name, size) {
    const item = document.createElement("li");
    item.className = "upload";
    item.dataset.name = name;
    const label = document.createElement("span");
    label.className = "name";
    label.textContent = `${name} (${formatSize(size)})`;
    const bar = document.createElement("progress");
    bar.max = Math.max(size, 1);
    bar.value = 0;
    bar.setAttribute("aria-label", `Upload of ${name}`);
    const state = document.createElement("span");
    state.className = "state";
    state.textContent = "Waiting";
    item.append(label, bar, state);
    $("upload-list").append(item);
    $("uploads-empty").hidden = true;
    return {
      progress(done) {
        bar.value = size ? done : 1;
      },
      state(text, kind) {
        state.textContent = text;
        state.className = `state${kind ? ` state-${kind}` : ""}`;
      },
    };
  }

  function renderIncomplete() {
    const list = $("incomplete-list");
    list.replaceChildren();
    for (const session of incomplete.values()) {
      const item = document.createElement("li");
      item.className = "incomplete";
      item.dataset.name = session.name;
      const received = (session.parts || []).length;
      item.textContent =
        `${session.name} (${formatSize(session.size)}, ${received} of ${session.part_count} parts received)` +
        " — incomplete: choose the file again to resume";
      list.append(item);
    }
    $("incomplete-section").hidden = incomplete.size === 0;
  }

  // --- one file --------------------------------------------------------------------------------

  async function sha256Hex(file) {
    if (file.size > SHA256_MAX_BYTES || !(window.crypto && crypto.subtle)) return undefined;
    const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
    return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
  }

  function expectedSize(session, number) {
    return Math.max(0, Math.min(session.size, number * session.part_size) - (number - 1) * session.part_size);
  }

  function missingParts(session) {
    const received = new Set(
      (session.parts || []).filter((part) => part.size === expectedSize(session, part.number)).map((part) => part.number),
    );
    const missing = [];
    for (let number = 1; number <= session.part_count; number += 1) if (!received.has(number)) missing.push(number);
    return missing;
  }

  async function sendParts(file, session, numbers, row) {
    const inFlight = new Map();
    const sent = new Set();
    const missing = new Set(numbers);
    let done = 0;
    for (let number = 1; number <= session.part_count; number += 1) {
      if (!missing.has(number)) done += expectedSize(session, number);
    }
    const report = () => {
      let total = done;
      for (const loaded of inFlight.values()) total += loaded;
      row.progress(total);
      row.state(`Uploading: ${Math.floor((100 * total) / Math.max(file.size, 1))}%`);
    };
    report();
    const todo = [...numbers];
    const worker = async () => {
      while (todo.length) {
        const number = todo.shift();
        const start = (number - 1) * session.part_size;
        const blob = file.slice(start, start + expectedSize(session, number));
        await retrying(`Part ${number} of ${file.name}`, async () => {
          inFlight.set(number, 0);
          report();
          const target = await api("POST", `${base}/uploads/${session.id}/parts/${number}`);
          await putPart(target, blob, (loaded) => {
            inFlight.set(number, loaded);
            report();
          });
        }).finally(() => inFlight.delete(number));
        sent.add(number);
        done += blob.size;
        report();
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_PARTS, numbers.length) }, worker));
  }

  async function uploadFile(file, name) {
    const row = uploadRow(name, file.size);
    try {
      row.state("Preparing (computing its SHA-256)…");
      const sha256 = await sha256Hex(file);
      const request = { name, size: file.size };
      if (file.type) request.content_type = file.type;
      if (sha256) request.sha256 = sha256;
      // The same name, size and checksum again answers the OPEN session: that is how a resume starts.
      let session = await retrying(`Starting ${name}`, () => api("POST", `${base}/uploads`, request));
      const key = `${name}\u0000${file.size}`;
      const resumed = incomplete.has(key) || (session.parts || []).length > 0;
      for (let attempt = 0; ; attempt += 1) {
        const missing = missingParts(session);
        if (resumed && attempt === 0) row.state(`Resuming: ${missing.length} of ${session.part_count} parts to send`);
        await sendParts(file, session, missing, row);
        try {
          session = await retrying(`Finishing ${name}`, () => api("POST", `${base}/uploads/${session.id}/complete`));
          break;
        } catch (error) {
          // 409: the store lacks a part after all (e.g. one cut off); send what it lacks, a few times.
          if (!(error instanceof ApiError) || error.status !== 409 || attempt >= 2) throw error;
          session = await retrying(`Checking ${name}`, () => api("GET", `${base}/uploads/${session.id}`));
        }
      }
      incomplete.delete(key);
      renderIncomplete();
      row.progress(file.size);
      const label = resumed ? "Uploaded (resumed)" : "Uploaded";
      row.state(`${label}; checksumming…`, "done");
      uploaded.set(name, { row, label });
      setStatus(`${name} uploaded.`);
      pollFiles();
    } catch (error) {
      row.state(`Failed: ${error.message}`, "failed");
      showError(`${name}: ${error.message}`);
      setStatus(`${name} was not uploaded.`);
    }
  }

  async function runQueue() {
    if (running) return;
    running = true;
    try {
      while (queue.length) {
        const { file, name } = queue.shift();
        setStatus(`Uploading ${name} (${queue.length} more waiting)…`);
        await uploadFile(file, name);
      }
    } finally {
      running = false;
    }
  }

  function enqueue(entries) {
    if (!entries.length) return;
    showError("");
    for (const entry of entries) queue.push(entry);
    runQueue();
  }

  // --- choosing files --------------------------------------------------------------------------

  function fromInput(input) {
    const entries = Array.from(input.files || [], (file) => ({ file, name: file.webkitRelativePath || file.name }));
    input.value = ""; // choosing the same file again (a resume) fires `change` again
    enqueue(entries);
  }

  function readEntries(reader) {
    return new Promise((resolve, reject) => reader.readEntries(resolve, reject));
  }

  async function walk(entry, found) {
    if (entry.isFile) {
      const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
      found.push({ file, name: entry.fullPath.replace(/^\/+/, "") });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (let batch = await readEntries(reader); batch.length; batch = await readEntries(reader)) {
        for (const child of batch) await walk(child, found);
      }
    }
  }

  async function fromDrop(event) {
    const items = Array.from(event.dataTransfer.items || []);
    const entries = items.map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null));
    if (entries.some(Boolean)) {
      const found = [];
      for (const entry of entries) if (entry) await walk(entry, found);
      enqueue(found);
    } else {
      enqueue(Array.from(event.dataTransfer.files || [], (file) => ({ file, name: file.name })));
    }
  }

  // --- the area's files, live ------------------------------------------------------------------

  let polling = false;

  // The area's report (NDJSON, one file a line): each current file's size, state and newest validation.
  async function listFiles() {
    const text = await request("GET", `${base}/report?format=json`);
    return text
      .split("\n")
      .filter((line) => line.trim())
      .map((line) => JSON.parse(line));
  }

  function checksumState(file) {
    return file.state || "UPLOADED";
  }

  function validationState(file) {
    return file.validation_status || "not validated";
  }

  async function pollFiles() {
    if (polling) return;
    polling = true;
    try {
      const files = await listFiles();
      const body = $("files-body");
      const rows = files.map((file) => {
        const row = document.createElement("tr");
        row.dataset.name = file.name;
        const cells = [
          ["name", file.name],
          ["size", formatSize(file.size)],
          [`checksum ${checksumState(file)}`, checksumState(file)],
          [`validation ${file.validation_status || ""}`.trim(), validationState(file)],
        ];
        for (const [className, text] of cells) {
          const cell = document.createElement("td");
          cell.className = className;
          cell.textContent = text;
          row.append(cell);
        }
        return row;
      });
      body.replaceChildren(...rows);
      for (const file of files) {
        const done = uploaded.get(file.name);
        const state = checksumState(file);
        if (done && state !== "UPLOADED" && state !== "CHECKSUMMING") {
          const bad = state === "CORRUPT" || state === "REJECTED";
          done.row.state(`${done.label}; ${state}`, bad ? "failed" : "done");
          uploaded.delete(file.name);
        }
      }
      $("files-empty").hidden = files.length > 0;
    } catch (error) {
      setStatus(`Could not read the area's files: ${error.message}`);
    } finally {
      polling = false;
    }
  }

  // --- start -----------------------------------------------------------------------------------

  async function start() {
    $("area-id").textContent = area || "(none)";
    if (!area || !token) {
      setStatus("This page needs a submitter link.");
      showError("The address has no submitter link (#link=…). Ask the person who sent you here for the full link.");
      return;
    }
    const zone = $("drop-zone");
    const fileInput = $("file-input");
    zone.addEventListener("click", () => fileInput.click());
    zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      zone.classList.add("over");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("over");
      fromDrop(event).catch((error) => showError(error.message));
    });
    fileInput.addEventListener("change", () => fromInput(fileInput));
    $("folder-input").addEventListener("change", () => fromInput($("folder-input")));
    try {
      const open = await api("GET", `${base}/uploads`);
      for (const session of open.uploads || []) incomplete.set(`${session.name}\u0000${session.size}`, session);
      renderIncomplete();
      setStatus(incomplete.size ? "Ready. Some uploads are incomplete: choose those files again to resume." : "Ready.");
    } catch (error) {
      setStatus("This link cannot be used.");
      showError(error.message);
      return;
    }
    await pollFiles();
    setInterval(pollFiles, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
