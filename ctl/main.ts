#!/usr/bin/env node
// tortiectl entry point (bin/tortiectl runs the compiled dist/ctl/main.js).
import { runCtl } from './program.js';

const code = await runCtl(process.argv.slice(2));
// Exit explicitly: a datastore client can hold sockets open after close (stdout is synchronous for
// files and pipes on Linux, so nothing printed is lost).
process.exit(code);
