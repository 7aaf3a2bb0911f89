// The staff pages' own script: keyboard shortcuts, quick replies, and keeping the page
// title and focus right after htmx swaps a live update in. Plain browser JavaScript, no
// build step; loaded with `defer` under a CSP without inline script or eval.
(function () {
  'use strict';

  /** The shortcut table rendered from src/staff/keyboard.ts: key -> action. */
  function shortcuts() {
    var map = {};
    document.querySelectorAll('#keyboard-help tr[data-key]').forEach(function (row) {
      map[row.getAttribute('data-key')] = row.getAttribute('data-action');
    });
    return map;
  }

  function typingIn(el) {
    if (!el || el === document.body) {
      return false;
    }
    var tag = el.tagName;
    return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || el.isContentEditable;
  }

  function rowLinks() {
    return Array.prototype.slice.call(document.querySelectorAll('#list-region .row-link'));
  }

  /** Moves the focus to the next (+1) or previous (-1) conversation in the list. */
  function move(step) {
    var links = rowLinks();
    if (links.length === 0) {
      return;
    }
    var at = links.indexOf(document.activeElement);
    if (at < 0) {
      at = links.findIndex(function (a) { return a.getAttribute('aria-current') === 'page'; });
    }
    var next = at < 0 ? (step > 0 ? 0 : links.length - 1) : Math.min(links.length - 1, Math.max(0, at + step));
    links[next].focus();
  }

  var actions = {
    next: function () { move(1); },
    previous: function () { move(-1); },
    reply: function () {
      var box = document.getElementById('reply-text');
      if (box) { box.focus(); }
    },
    note: function () {
      var panel = document.getElementById('note-panel');
      if (panel) { panel.open = true; }
      var box = document.getElementById('note-text');
      if (box) { box.focus(); }
    },
    resolve: function () {
      var form = document.getElementById('resolve-form');
      if (form) { form.requestSubmit(); }
    },
    search: function () {
      var box = document.getElementById('search-q');
      if (box) { box.focus(); }
    },
    help: function () {
      var help = document.getElementById('keyboard-help');
      if (help) {
        help.open = !help.open;
        help.querySelector('summary').focus();
      }
    },
    leave: function () {
      if (document.activeElement) { document.activeElement.blur(); }
    },
  };

  document.addEventListener('keydown', function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) {
      return;
    }
    var action = shortcuts()[event.key];
    if (!action) {
      return;
    }
    if (typingIn(event.target) && action !== 'leave') {
      return;
    }
    event.preventDefault();
    actions[action]();
  });

  // Quick replies: "/shortcode" then a space or Tab becomes the reply's text.
  document.addEventListener('keydown', function (event) {
    var box = event.target;
    if (!box || box.id !== 'reply-text' || (event.key !== ' ' && event.key !== 'Tab')) {
      return;
    }
    var before = box.value.slice(0, box.selectionStart);
    var match = /(^|\s)\/([A-Za-z0-9_-]+)$/.exec(before);
    if (!match) {
      return;
    }
    var found = null;
    document.querySelectorAll('#quick-replies dd[data-shortcode]').forEach(function (dd) {
      if (dd.getAttribute('data-shortcode') === match[2].toLowerCase()) { found = dd.textContent; }
    });
    if (found === null) {
      return;
    }
    event.preventDefault();
    var start = before.length - match[2].length - 1;
    box.value = box.value.slice(0, start) + found + box.value.slice(box.selectionEnd);
    box.selectionStart = box.selectionEnd = start + found.length;
    box.dispatchEvent(new Event('input', { bubbles: true }));
  });

  // A live update swapped the list in: the title counts what waits; the focused row keeps the focus.
  var focusedRow = null;
  document.addEventListener('htmx:beforeSwap', function () {
    var active = document.activeElement;
    var row = active && active.closest ? active.closest('[data-conversation-id]') : null;
    focusedRow = row ? row.getAttribute('data-conversation-id') : null;
  });
  document.addEventListener('htmx:afterSettle', function () {
    var list = document.getElementById('list-region');
    if (list && list.getAttribute('data-title')) {
      document.title = list.getAttribute('data-title');
    }
    if (focusedRow) {
      var link = document.querySelector('#row-' + focusedRow + ' .row-link');
      if (link && document.activeElement === document.body) { link.focus(); }
      focusedRow = null;
    }
  });
})();
