import { timeoutSignal } from "./timeout.js";

/** The Prometheus calls serin makes: instant queries, answered with one number or a vector by a label. */
export class PrometheusClient {
  constructor(
    private readonly url: URL,
    private readonly timeoutMs = 10_000,
  ) {}

  /** The value of a query that yields one sample; undefined for an empty result. */
  async query(promql: string): Promise<number | undefined> {
    return numberIn(await this.instant(promql));
  }

  /** Each sample of a query's instant vector by the value of one of its labels (e.g. `le`). */
  async queryByLabel(promql: string, label: string): Promise<Map<string, number>> {
    const data = await this.instant(promql);
    if (data.resultType !== "vector")
      throw new Error(`the query returned a ${data.resultType}, not a vector`);
    const samples = data.result as { metric: Record<string, string>; value: [number, string] }[];
    return new Map(samples.map((sample) => [sample.metric[label] ?? "", Number(sample.value[1])]));
  }

  private async instant(promql: string): Promise<PrometheusAnswer["data"]> {
    const endpoint = new URL("api/v1/query", this.url.href.endsWith("/") ? this.url : `${this.url.href}/`);
    const response = await fetch(endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ query: promql }),
      signal: timeoutSignal(this.timeoutMs),
    });
    const body = (await response.json().catch(() => undefined)) as PrometheusAnswer | undefined;
    if (!response.ok || body?.status !== "success") {
      throw new Error(`Prometheus answered ${response.status}: ${body?.error ?? "no error message"}`);
    }
    return body.data;
  }
}

interface PrometheusAnswer {
  status: "success" | "error";
  error?: string;
  data: { resultType: string; result: unknown };
}

function numberIn(data: PrometheusAnswer["data"]): number | undefined {
  if (data.resultType === "scalar") return Number((data.result as [number, string])[1]);
  if (data.resultType !== "vector")
    throw new Error(`the query returned a ${data.resultType}, not one number`);
  const samples = data.result as { value: [number, string] }[];
  if (samples.length === 0) return undefined;
  if (samples.length > 1) throw new Error(`the query returned ${samples.length} series, not one number`);
  return Number(samples[0]?.value[1]);
}
