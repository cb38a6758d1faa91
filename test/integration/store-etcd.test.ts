// The Store conformance suite against a real etcd: Calico's etcd layout over the etcd3 KV driver.
import { describeStoreConformance } from '../../datastore/store-conformance.js';
import { EtcdBackend } from '../../datastore/backends/etcd.js';
import { EtcdStore } from '../../datastore/backends/etcd-store.js';
import { startEtcd } from '../harness/etcd.js';

describeStoreConformance('etcd', async () => {
  const etcd = await startEtcd();
  const kv = new EtcdBackend({ endpoints: [etcd.endpoint] });
  const store = new EtcdStore(kv);
  const others: EtcdStore[] = [];
  return {
    store,
    second: async () => {
      const s = new EtcdStore(new EtcdBackend({ endpoints: [etcd.endpoint] }));
      others.push(s);
      return s;
    },
    expireHistory: async () => {
      const { revision } = await kv.list('/calico/');
      await kv.compact(revision);
    },
    cleanup: async () => {
      await Promise.all([store, ...others].map((s) => s.close()));
      await etcd.stop();
    },
  };
});
