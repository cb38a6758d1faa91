// The one Store conformance suite, on the Kubernetes datastore: a real kube-apiserver with Calico's CRDs.
import { describeStoreConformance } from '../../datastore/store-conformance.js';
import { kubeStoreFixture } from '../harness/kube-store.js';

describeStoreConformance('kubernetes', kubeStoreFixture);
