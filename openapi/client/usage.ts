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
