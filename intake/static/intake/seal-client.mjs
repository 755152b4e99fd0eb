// The page's side of the sealing worker: starts it as soon as the page loads (so libsodium is
// ready by the time the source presses Send), then runs jobs and relays their progress.

export class SealClient {
  /** `dataset`: the form's data-worker, data-vendor, data-api and data-signing-fingerprint. */
  constructor(dataset) {
    this.jobs = new Map();
    this.nextId = 1;
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => {}); // observed by whoever runs a job
    try {
      this.worker = new Worker(dataset.worker);
    } catch (error) {
      this.fail('sodium_failed');
      return;
    }
    this.worker.onmessage = (event) => this.receive(event.data || {});
    // The worker script itself did not load or crashed: nothing can be sealed.
    this.worker.onerror = (event) => {
      event.preventDefault();
      this.fail('sodium_failed');
    };
    this.worker.postMessage({
      op: 'init',
      vendor: dataset.vendor,
      api: dataset.api,
      signingFingerprint: dataset.signingFingerprint || null,
    });
  }

  fail(code) {
    this.failed = code;
    this.rejectReady(Object.assign(new Error(code), { code, params: {} }));
    for (const job of this.jobs.values()) job.reject(Object.assign(new Error(code), { code, params: {} }));
    this.jobs.clear();
  }

  receive(message) {
    if (message.type === 'ready') {
      this.resolveReady();
      return;
    }
    if (message.type === 'failed') {
      this.fail(message.code || 'sodium_failed');
      return;
    }
    const job = this.jobs.get(message.id);
    if (!job) return;
    if (message.type === 'done') {
      this.jobs.delete(message.id);
      job.resolve(message.result);
    } else if (message.type === 'error') {
      this.jobs.delete(message.id);
      job.reject(Object.assign(new Error(message.code), message));
    } else {
      job.onEvent(message);
    }
  }

  /** Run a job in the worker; `onEvent` receives its status, progress and retry messages. */
  async run(op, payload, onEvent = () => {}) {
    await this.ready;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.jobs.set(id, { resolve, reject, onEvent });
      this.worker.postMessage({ ...payload, op, id });
    });
  }

  /** Stop the worker, and with it every key it held. */
  terminate() {
    if (this.worker) this.worker.terminate();
  }
}
