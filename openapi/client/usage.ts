// What a company writes with the client generated from openapi.json
// (`openapi-typescript` for the types, `openapi-fetch` for the calls).
// `tsc --noEmit` must accept it, and must refuse the lines marked
// `@ts-expect-error`: the document types requests exactly.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

const apiome = createClient<paths>({ baseUrl: "http://127.0.0.1:8080" });
const headers = { Authorization: "Bearer <access token>" };

export async function askForEmail(handle: string): Promise<string> {
  const detail: components["schemas"]["DataDetail"] = {
    type: "apiome_data",
    attributes: ["email"],
    purpose: "marketing",
    duration: "P30D",
    offer: { amount_micros: 50_000, currency: "EUR" },
  };
  const { data, error } = await apiome.POST("/v1/requests", {
    headers,
    body: { person: { handle }, authorization_details: [detail] },
  });
  if (error) {
    // a problem document: its `type` leads to /docs/problems#<kind>
    throw new Error(`${error.type}: ${error.detail}`);
  }
  return data.request_id;
}

export async function whereItStands(id: string): Promise<string> {
  const { data } = await apiome.GET("/v1/requests/{id}", {
    headers,
    params: { path: { id } },
  });
  return data?.status ?? "unknown";
}

export async function readData(): Promise<unknown> {
  const { data } = await apiome.GET("/v1/data", { headers });
  return data;
}

export const wrongPurpose: components["schemas"]["DataDetail"] = {
  type: "apiome_data",
  attributes: ["email"],
  // @ts-expect-error: not a purpose of the catalogue
  purpose: "spying",
  duration: "P30D",
};

export const wrongType: components["schemas"]["DataDetail"] = {
  // @ts-expect-error: the only type is apiome_data
  type: "openid_credential",
  attributes: ["email"],
  purpose: "marketing",
  duration: "P30D",
};

type Webhook = components["schemas"]["RequestEvent"];
export function onWebhook(event: Webhook): string | null | undefined {
  return event.data.grant_id;
}

// Every list is one page at a time: follow `next_cursor` until it is null.
export async function everyGrantId(session: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const { data, error } = await apiome.GET("/v1/me/grants", {
      headers: { Authorization: `Bearer ${session}` },
      params: { query: { limit: 100, cursor } },
    });
    if (error || !data) throw new Error("could not list grants");
    ids.push(...data.items.map((grant) => grant.id));
    cursor = data.next_cursor ?? undefined;
  } while (cursor);
  return ids;
}

// A counter-offer, accepted: money is one shape everywhere.
export async function acceptIfCheap(id: string, most: number): Promise<boolean> {
  const { data } = await apiome.GET("/v1/requests/{id}", { headers, params: { path: { id } } });
  const counter = data?.counter;
  if (data?.status !== "countered" || !counter || counter.amount_micros > most) return false;
  const accepted = await apiome.POST("/v1/requests/{id}/accept-counter", {
    headers,
    params: { path: { id } },
  });
  return accepted.data?.status === "approved";
}
