import { useEffect, useState } from 'preact/hooks';

/** Hash routes (`#/timeline`, `#/credentials/t/c`, `#/?status=expiring`): the server serves one page. */
export interface Route {
  parts: string[];
  query: URLSearchParams;
}

let current = '#/';

export function parse(hash: string): Route {
  const raw = hash.replace(/^#/, '');
  const [path = '/', search = ''] = raw.split('?', 2);
  const parts = path.split('/').filter((p) => p.length > 0).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { parts, query: new URLSearchParams(search) };
}

/** Only `#/…` is a route: other fragments (the skip link's `#main`) leave the page as it is. */
const isRoute = (hash: string) => hash === '' || hash.startsWith('#/');

export function href(parts: string[], query?: Record<string, string | undefined>): string {
  const path = `#/${parts.map(encodeURIComponent).join('/')}`;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

export function navigate(hash: string, replace = false): void {
  if (replace) {
    history.replaceState(null, '', hash);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else {
    location.hash = hash;
  }
}

export function useRoute(): Route {
  const [hash, setHash] = useState(() => (isRoute(location.hash) ? (current = location.hash || '#/') : current));
  useEffect(() => {
    const on = () => {
      if (!isRoute(location.hash)) return;
      current = location.hash || '#/';
      document.body.dataset['navigated'] = 'true';
      setHash(current);
    };
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return parse(hash);
}
