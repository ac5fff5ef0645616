import { RobustFtError } from '@robust-ft/core';

/**
 * robust-ft's own IndexedDB object store. A checkpoint is one record — `{ name, document, data }`: the
 * sealed JSON document (record, manifests, model topology, checksums) and all weight bytes (variables,
 * optimizer state, the layers model's weights) — written by one `put` in one transaction, so a crash
 * mid-save leaves the previous checkpoint whole (IndexedDB transactions are atomic).
 */
export interface StoredCheckpoint {
  name: string;
  document: string;
  data: ArrayBuffer;
}

const DB_NAME = 'robust-ft-checkpoints';
const STORE = 'checkpoints';

function unsupported(): RobustFtError {
  return new RobustFtError('UNSUPPORTED', 'IndexedDB checkpoints need a browser (no indexedDB here)', {
    argument: 'name',
  });
}

function openDb(): Promise<IDBDatabase> {
  const idb = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (idb === undefined) return Promise.reject(unsupported());
  return new Promise((resolve, reject) => {
    const request = idb.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: 'name' });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** Runs `body` in one transaction; resolves with its result once the transaction has committed. */
export async function inTransaction<T>(
  mode: IDBTransactionMode,
  body: (store: IDBObjectStore) => Promise<T> | T,
): Promise<T> {
  const db = await openDb();
  try {
    const tx = db.transaction(STORE, mode);
    const done = new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new Error('transaction aborted'));
    });
    let result: T;
    try {
      result = await body(tx.objectStore(STORE));
    } catch (error) {
      tx.abort();
      await done.catch(() => undefined);
      throw error;
    }
    await done;
    return result;
  } finally {
    db.close();
  }
}

export function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

export function readStored(name: string): Promise<StoredCheckpoint | undefined> {
  return inTransaction('readonly', (s) => request(s.get(name) as IDBRequest<StoredCheckpoint | undefined>));
}

export function writeStored(value: StoredCheckpoint): Promise<void> {
  return inTransaction('readwrite', async (s) => {
    await request(s.put(value));
  });
}

export function storedNames(): Promise<string[]> {
  return inTransaction('readonly', async (s) => (await request(s.getAllKeys())).map(String));
}

/** Deletes `name`; resolves false when there was nothing to delete (checked in the same transaction). */
export function deleteStored(name: string): Promise<boolean> {
  return inTransaction('readwrite', async (s) => {
    if ((await request(s.count(name))) === 0) return false;
    await request(s.delete(name));
    return true;
  });
}
