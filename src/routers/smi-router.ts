import { type CustomObjects, ObjectRouter } from "./object-router.js";
import {
  readTrafficSplitWeights,
  repairTrafficSplit,
  SMI_GROUP,
  type SmiVersion,
  TRAFFIC_SPLIT_PLURAL,
  type TrafficSplit,
  trafficSplitBody,
} from "./smi.js";

/** Steers traffic with an SMI TrafficSplit, read and written through the one API version given. */
export class SmiRouter extends ObjectRouter {
  constructor(
    objects: CustomObjects,
    readonly version: SmiVersion,
  ) {
    super(objects, {
      api: `TrafficSplit ${SMI_GROUP}/${version}`,
      group: SMI_GROUP,
      version,
      plural: TRAFFIC_SPLIT_PLURAL,
      build: (target, weights) => trafficSplitBody(target, weights, version),
      repair: (existing, target, weights) =>
        repairTrafficSplit(existing as TrafficSplit, target, weights, version),
      read: (existing, target) => readTrafficSplitWeights(existing, target),
    });
  }
}
