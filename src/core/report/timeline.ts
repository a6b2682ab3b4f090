import type { Engine, OpCategory } from '../graph/ops';
import type { Run, Simulation } from '../sim/simulate';
import { shownName } from '../text';

/** One op as the engine timeline draws it (times in µs from the start of the layer). */
export interface TimelineOp {
  name: string;
  engine: Engine;
  category: OpCategory;
  startUs: number;
  /** When its result is there (later than the engine frees up for ops that cross the network). */
  endUs: number;
  /** The rewrite site the op belongs to, by id within its layer kind. */
  site: string | null;
}

export interface ScheduleView {
  makespanUs: number;
  ops: TimelineOp[];
}

/** One layer of a kind, baseline and deferred, on the same time axis. */
export interface KindTimeline {
  kind: string;
  label: string;
  baseline: ScheduleView;
  deferred: ScheduleView;
}

function scheduleView(run: Run): ScheduleView {
  const { start, end, makespanNs } = run.timeline;
  return {
    makespanUs: makespanNs / 1000,
    ops: run.graph.ops.map((op, i) => ({
      name: op.name,
      engine: op.engine,
      category: op.category,
      startUs: start[i]! / 1000,
      endUs: end[i]! / 1000,
      site: op.site ?? null,
    })),
  };
}

/** The simulated schedules of one layer of each kind, as plain data for the panel and the HTML export. */
export function timelinesOf(simulation: Simulation): KindTimeline[] {
  return simulation.kinds.map((k) => ({ kind: k.id, label: shownName(k.label), baseline: scheduleView(k.baseline), deferred: scheduleView(k.deferred) }));
}
