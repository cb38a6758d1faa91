// Policy drivers a test file makes, so their kept-running iptables-restore and ipset end with it.
import { PolicyDriver, type PolicyDriverOptions } from '../../felix/dataplane/policy-iptables.js';

export class PolicyDrivers {
  private readonly made: PolicyDriver[] = [];

  make(o: PolicyDriverOptions): PolicyDriver {
    const d = new PolicyDriver(o);
    this.made.push(d);
    return d;
  }

  closeAll(): void {
    for (const d of this.made.splice(0)) d.close();
  }
}
