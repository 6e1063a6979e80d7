// The twin's GraphQL API, as the page reaches it: queries and mutations over HTTP POST /graphql,
// subscriptions over graphql-transport-ws. The key travels only in headers and in connection_init.
import { createClient } from "graphql-ws";

const KEY_ITEM = "kgtwin.apiKey";

/** Take `#key=...` (and `model=...`) out of the address, so the key stays out of history and logs. */
export function readFragment() {
  const params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  const key = params.get("key");
  if (key) {
    sessionStorage.setItem(KEY_ITEM, key);
    params.delete("key");
  }
  const rest = params.toString();
  history.replaceState(null, "", window.location.pathname + window.location.search + (rest ? `#${rest}` : ""));
  return { key: sessionStorage.getItem(KEY_ITEM), model: params.get("model") };
}

export function rememberKey(key) {
  sessionStorage.setItem(KEY_ITEM, key);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY_ITEM);
}

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

export class TwinApi {
  constructor(key, { onLive = () => {} } = {}) {
    this.key = key;
    const url = new URL("graphql", window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.hash = "";
    this.ws = createClient({
      url: url.href,
      connectionParams: () => ({ apiKey: this.key }),
      lazy: false,
      keepAlive: 10_000,
      retryAttempts: Infinity,
      shouldRetry: () => true,
      on: {
        connected: () => onLive(true),
        closed: () => onLive(false),
      },
    });
  }

  /** Run a query or mutation; its data, or an ApiError with the server's message. */
  async query(text, variables = {}) {
    const response = await fetch("graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${this.key}` },
      body: JSON.stringify({ query: text, variables }),
    });
    let body;
    try {
      body = await response.json();
    } catch {
      throw new ApiError(`the API answered ${response.status} without a GraphQL body`, response.status);
    }
    if (body.errors?.length) {
      throw new ApiError(body.errors.map((e) => e.message).join("; "), response.status);
    }
    return body.data;
  }

  /** Subscribe; `onData` gets each payload's data. Returns the function that ends the subscription. */
  subscribe(text, variables, onData, onError = () => {}) {
    return this.ws.subscribe(
      { query: text, variables },
      {
        next: (payload) => (payload.errors?.length ? onError(payload.errors[0].message) : onData(payload.data)),
        error: (error) => onError(error?.message || error?.reason || String(error)),
        complete: () => {},
      },
    );
  }
}
