/** How long a look waits for others to share its request: the waits of one poll grid wake within a few ms. */
const GATHER_MS = 10;

interface Waiter<V> {
  resolve(value: V | undefined): void;
  reject(error: unknown): void;
}

/**
 * Looks asked for at about the same moment, answered by one request for all of their keys
 * (`fetch` returns what it found; a key it leaves out resolves to undefined).
 */
export class Batched<V> {
  readonly #fetch: (keys: string[]) => Promise<Map<string, V | undefined>>;
  #pending = new Map<string, Waiter<V>[]>();
  #timer: NodeJS.Timeout | undefined;

  constructor(fetch: (keys: string[]) => Promise<Map<string, V | undefined>>) {
    this.#fetch = fetch;
  }

  get(key: string): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      this.#pending.set(key, [...(this.#pending.get(key) ?? []), { resolve, reject }]);
      this.#timer ??= setTimeout(() => void this.#flush(), GATHER_MS);
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#pending;
    this.#pending = new Map();
    this.#timer = undefined;
    try {
      const found = await this.#fetch([...batch.keys()]);
      for (const [key, waiters] of batch) for (const waiter of waiters) waiter.resolve(found.get(key));
    } catch (error) {
      for (const waiters of batch.values()) for (const waiter of waiters) waiter.reject(error);
    }
  }
}
