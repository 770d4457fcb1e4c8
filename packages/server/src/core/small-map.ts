/**
 * A string-keyed map that holds its first entry inline and makes a `Map` only when a second key
 * arrives. Per-connection state is mostly one entry (a connection in one room): an empty `Map`
 * with its hash table costs ~200 bytes, this ~50. Iterates in insertion order, like `Map`.
 */
export class SmallMap<V> {
  private key: string | undefined;
  private value: V | undefined;
  private map: Map<string, V> | undefined;

  get size(): number {
    return this.map ? this.map.size : this.key === undefined ? 0 : 1;
  }

  get(key: string): V | undefined {
    if (this.map) return this.map.get(key);
    return key === this.key ? this.value : undefined;
  }

  has(key: string): boolean {
    return this.map ? this.map.has(key) : key === this.key;
  }

  set(key: string, value: V): this {
    if (this.map) this.map.set(key, value);
    else if (this.key === undefined || this.key === key) {
      this.key = key;
      this.value = value;
    } else {
      this.map = new Map([[this.key, this.value as V], [key, value]]);
      this.key = undefined;
      this.value = undefined;
    }
    return this;
  }

  delete(key: string): boolean {
    if (this.map) {
      const deleted = this.map.delete(key);
      if (this.map.size === 0) this.map = undefined;
      return deleted;
    }
    if (key !== this.key) return false;
    this.key = undefined;
    this.value = undefined;
    return true;
  }

  clear(): void {
    this.map = undefined;
    this.key = undefined;
    this.value = undefined;
  }

  *[Symbol.iterator](): IterableIterator<[string, V]> {
    if (this.map) yield* this.map;
    else if (this.key !== undefined) yield [this.key, this.value as V];
  }
}
