import { lifecycleJourneys } from "./lifecycle-journeys.js";

lifecycleJourneys("canary lifecycle on an SMI TrafficSplit, on the default Kubernetes version");
