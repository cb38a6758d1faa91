// The command registry: each module adds its commands to the program. To add a command (e.g.
// `node status`, `ipam show`, `bgp peers`), write ctl/commands/<x>.ts exporting a RegisterCommand
// and list it here.
import type { Command } from 'commander';
import type { CtlContext } from '../context.js';
import { registerApplyCommands } from './apply.js';
import { registerBgpPeersCommand } from './bgp-peers-load.js';
import { registerConfig } from './config.js';
import { registerDelete } from './delete.js';
import { registerGet } from './get.js';
import { registerIpam } from './ipam.js';
import { registerLabel } from './label.js';
import { registerNodeStatus } from './node-status.js';
import { registerPatch } from './patch.js';
import { registerPolicyTraceCommand } from './policy-trace.js';
import { registerValidate } from './validate.js';
import { registerVersion } from './version.js';

export type RegisterCommand = (program: Command, ctx: CtlContext) => void;

export const COMMANDS: RegisterCommand[] = [registerApplyCommands, registerDelete, registerGet, registerPatch, registerLabel, registerValidate, registerConfig, registerBgpPeersCommand, registerNodeStatus, registerIpam, registerPolicyTraceCommand, registerVersion];
