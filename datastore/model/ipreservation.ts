// IPReservation (Calico 3.22+): addresses Calico IPAM must not hand out when it assigns automatically.
// Entries are kept as written (a bare IP or a CIDR, either family), as Calico stores them.
import { z } from 'zod';
import { parseNet } from './net.js';

const ipOrCidr = z.string().superRefine((s, ctx) => {
  if (!parseNet(s)) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} is not an IP address or CIDR (e.g. 10.0.2.3, 10.0.2.0/28 or cafe:f00d::/123)` });
});

export const ipReservationSpecSchema = z
  .object({
    reservedCIDRs: z.array(ipOrCidr).default([]),
  })
  .strict();

export type IPReservationSpec = z.output<typeof ipReservationSpecSchema>;
