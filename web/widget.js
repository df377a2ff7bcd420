// govassist chat widget: plain JavaScript, no build step, so it runs as-is in
// WeChat's in-app browser and any page that includes <script src="/widget.js">.
// It mounts into #govassist-chat (or appends one) and talks to POST /v1/chat,
// reading the server-sent event stream with fetch (EventSource cannot POST).
(function () {
  "use strict";
  var script = document.currentScript;
  var base = (script && script.getAttribute("data-endpoint")) || "";

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text) node.textContent = text;
    return node;
  }

  function mount(root) {
    var chat = el("div", "ga-chat");
    var log = el("div", "ga-log");
    log.setAttribute("aria-live", "polite");
    var form = el("form", "ga-form");
    var input = el("input", "ga-input");
    input.type = "text";
    input.name = "message";
    input.placeholder = "请输入您的问题，如：营业执照怎么办理？";
    input.setAttribute("aria-label", "问题");
    input.maxLength = 2000;
    var send = el("button", "ga-send", "发送");
    send.type = "submit";
    form.appendChild(input);
    form.appendChild(send);
    chat.appendChild(log);
    chat.appendChild(form);
    root.appendChild(chat);
    var sessionId = null;
    try { sessionId = window.sessionStorage.getItem("govassist.session"); } catch (e) { /* storage blocked */ }

    // The id to send with the next question: always the one the server last used.
    function remember(id) {
      if (!id) return;
      sessionId = id;
      try { window.sessionStorage.setItem("govassist.session", sessionId); } catch (e) { /* storage blocked */ }
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var message = input.value.trim();
      if (!message || send.disabled) return;
      input.value = "";
      log.appendChild(el("div", "ga-msg ga-user", message));
      var bubble = el("div", "ga-msg ga-bot");
      var text = el("span", "ga-text", "…");
      bubble.appendChild(text);
      log.appendChild(bubble);
      log.scrollTop = log.scrollHeight;
      send.disabled = true;
      ask(message, bubble, text).then(function () {
        send.disabled = false;
        input.focus();
      });
    });

    function ask(message, bubble, text) {
      var body = { message: message };
      if (sessionId) body.session_id = sessionId;
      var started = false;
      return fetch(base + "/v1/chat", {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "text/event-stream" },
        body: JSON.stringify(body)
      }).then(function (response) {
        if (!response.ok) {
          return response.json().then(function (err) {
            throw new Error((err && err.error && err.error.message) || ("HTTP " + response.status));
          });
        }
        return readEvents(response, function (name, data) {
          if (name === "sources") {
            remember(data.session_id);
            showSources(bubble, data.sources || []);
          } else if (name === "token") {
            if (!started) { text.textContent = ""; started = true; }
            text.textContent += data.text;
            log.scrollTop = log.scrollHeight;
          } else if (name === "error") {
            bubble.classList.add("ga-error");
            text.textContent = (started ? text.textContent + "\n" : "") + data.message;
          } else if (name === "done") {
            // Every turn ends here, declines and skill turns included; the server may have started a
            // new session (an expired id), and its id is the one to send next.
            remember(data.session_id);
            bubble.setAttribute("data-done", "true");
          }
        });
      }).catch(function (error) {
        bubble.classList.add("ga-error");
        text.textContent = "出错了：" + error.message;
      });
    }
  }

  function showSources(bubble, sources) {
    if (!sources.length) return;
    var list = el("ol", "ga-sources");
    sources.forEach(function (source) {
      var item = el("li");
      if (source.url) {
        var link = el("a", null, source.title);
        link.href = source.url;
        link.target = "_blank";
        link.rel = "noopener";
        item.appendChild(link);
      } else {
        item.appendChild(document.createTextNode(source.title));
      }
      item.appendChild(document.createTextNode(" (" + source.doc_id + ")"));
      list.appendChild(item);
    });
    bubble.appendChild(list);
  }

  // Parses a text/event-stream body incrementally: events are separated by a
  // blank line; each has `event:` and `data:` lines.
  function readEvents(response, onEvent) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder("utf-8");
    var buffer = "";
    function dispatch(block) {
      var name = "message", data = "";
      block.split("\n").forEach(function (line) {
        if (line.indexOf("event:") === 0) name = line.slice(6).trim();
        else if (line.indexOf("data:") === 0) data += line.slice(5).replace(/^ /, "");
      });
      if (data) {
        try { onEvent(name, JSON.parse(data)); } catch (e) { /* keep-alive or partial */ }
      }
    }
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) { if (buffer.trim()) dispatch(buffer); return; }
        buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n/g, "\n");
        var cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          dispatch(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
        }
        return pump();
      });
    }
    return pump();
  }

  function start() {
    var root = document.getElementById("govassist-chat");
    if (!root) {
      root = el("div");
      root.id = "govassist-chat";
      document.body.appendChild(root);
    }
    mount(root);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
