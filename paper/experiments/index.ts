// The experiments of the report, in the order they appear.
import { r1 } from './r1-noop.js'
import { r1n } from './r1n-network.js'
import { r2, r3 } from './r2-memory.js'
import { r4 } from './r4-churn.js'
import { r5 } from './r5-preinit.js'
import { r6 } from './r6-polybench.js'
import { r7 } from './r7-ladder.js'
import { r8 } from './r8-interaction.js'
import { r9 } from './r9-pipeline.js'
import { r10 } from './r10-primitives.js'
import { r11 } from './r11-zygote.js'
import { r12 } from './r12-instantiate.js'
import type { Experiment } from './types.js'

export const EXPERIMENTS: readonly Experiment[] = [r1, r1n, r12, r5, r11, r7, r2, r3, r4, r8, r9, r6, r10]
