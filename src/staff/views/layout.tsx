import type { ComponentChildren, VNode } from 'preact';
import { renderToString } from 'preact-render-to-string';
import { SHORTCUTS } from '../keyboard.js';
import { ASSETS, paths } from '../paths.js';
import type { StaffPerson } from '../person.js';

/**
 * htmx's settings for a page under a CSP without 'unsafe-inline' / 'unsafe-eval': no eval
 * (hx-on and trigger filters stay off), no script tags from responses, no injected style
 * element, requests to this origin only.
 */
export const HTMX_CONFIG = JSON.stringify({
  allowEval: false,
  allowScriptTags: false,
  includeIndicatorStyles: false,
  selfRequestsOnly: true,
  historyCacheSize: 0,
  refreshOnHistoryMiss: true,
});

/** Renders a full page: `<!DOCTYPE html>` and the escaped markup. */
export function renderPage(page: VNode<any>): string { // eslint-disable-line @typescript-eslint/no-explicit-any -- any component's element
  return `<!DOCTYPE html>${renderToString(page)}`;
}

/** Renders a partial (a list, a thread part) for htmx to swap in. */
export function renderPartial(partial: VNode<any>): string { // eslint-disable-line @typescript-eslint/no-explicit-any -- any component's element
  return renderToString(partial);
}

/** The keyboard table (from SHORTCUTS), open with `?`; staff.js reads its data-key / data-action. */
export function KeyboardHelp(): VNode {
  return (
    <details id="keyboard-help" class="keyboard-help">
      <summary>Keyboard shortcuts</summary>
      <table>
        <caption>Keys work when no field has the focus</caption>
        <thead>
          <tr>
            <th scope="col">Key</th>
            <th scope="col">Does</th>
          </tr>
        </thead>
        <tbody>
          {SHORTCUTS.map((s) => (
            <tr data-key={s.key} data-action={s.action} key={s.key}>
              <td>
                <kbd>{s.key}</kbd>
              </td>
              <td>{s.label}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}

export interface LayoutProps {
  title: string;
  person?: StaffPerson;
  /** The clinic whose live stream the page listens to (none: no stream). */
  streamClinicId?: string;
  clinicName?: string;
  children: ComponentChildren;
}

/** Every staff page: head with the assets and htmx settings, the banner, the content, the key table. */
export function Layout(props: LayoutProps): VNode {
  const stream = props.streamClinicId === undefined ? {} : { 'hx-ext': 'sse', 'sse-connect': paths.events(props.streamClinicId) };
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="htmx-config" content={HTMX_CONFIG} />
        <meta name="referrer" content="no-referrer" />
        <title>{props.title}</title>
        <link rel="stylesheet" href={`${ASSETS}/staff.css`} />
        <script src={`${ASSETS}/htmx.min.js`} defer></script>
        <script src={`${ASSETS}/sse.js`} defer></script>
        <script src={`${ASSETS}/staff.js`} defer></script>
      </head>
      <body {...stream}>
        <a class="skip-link" href="#main">
          Skip to the conversation
        </a>
        <header class="banner">
          <p class="brand">{props.clinicName ? `${props.clinicName} · front desk` : 'Front desk'}</p>
          {props.person ? (
            <form method="post" action={paths.signOut} class="sign-out">
              <span class="who">Signed in as {props.person.name === '' ? props.person.email : `${props.person.name} (${props.person.email})`}</span>{' '}
              <button type="submit">Sign out</button>
            </form>
          ) : null}
        </header>
        {props.children}
        <footer class="footer">
          <KeyboardHelp />
        </footer>
      </body>
    </html>
  );
}
