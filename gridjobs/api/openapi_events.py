"""/openapi.json entries of the event streams and the webhook endpoints."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from gridjobs.api import streams, webhooks
from gridjobs.api.openapi_objects import (
    URI, header, json_response, path_id, problems, query_parameters, ref,
)
from gridjobs.api.queries import Page

MODELS = [webhooks.WebhookIn, webhooks.WebhookOut, webhooks.CreatedWebhookOut, webhooks.WebhookList,
          webhooks.AttemptOut, webhooks.DeliveryOut, webhooks.DeliveryPage, webhooks.RetriedOut]
QUERIES = [streams.EventsQuery]
_WEBHOOK_ID = path_id(UUID, "the webhook's id")
_LAST_EVENT_ID = {"name": "Last-Event-ID", "in": "header", "required": False,
                  "description": "resume after this outbox id: every later event, once",
                  "schema": {"type": "string", "pattern": "^[0-9]{1,19}$"}}
_STREAM = {"description": "text/event-stream: `id` is the outbox id, `event` the type, `data` the "
                          "envelope {type, timestamp, data}; a comment line every 15 s",
           "content": {"text/event-stream": {"schema": {"type": "string"}}}}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def event_paths(defs: dict[str, Any]) -> dict[str, Any]:
    return {
        "/v1/operations/{id}/events": {"get": {
            "summary": "The operation's events as Server-Sent Events, from its start (or after "
                       "Last-Event-ID) to its terminal event",
            "parameters": [path_id(UUID, "the operation's id"), _LAST_EVENT_ID],
            "responses": {"200": _STREAM, **problems(400, 404, 503)}}},
        "/v1/events": {"get": {
            "summary": "Every event in your area as Server-Sent Events, from now on (or after Last-Event-ID)",
            "parameters": [*query_parameters(streams.EventsQuery, defs), _LAST_EVENT_ID],
            "responses": {"200": _STREAM, **problems(400, 422, 503)}}},
    }


def webhook_paths(defs: dict[str, Any]) -> dict[str, Any]:
    created = json_response(webhooks.CreatedWebhookOut, "created; the secret is in this answer only",
                            Location=header(URI, required=True))
    return {
        "/v1/webhooks": {
            "post": {"summary": "Register a webhook endpoint (Standard Webhooks) for your area",
                     "requestBody": _body(ref(webhooks.WebhookIn)),
                     "responses": {"201": created, **problems(400, 409, 413, 422, 503)}},
            "get": {"summary": "Your webhook endpoints",
                    "responses": {"200": json_response(webhooks.WebhookList, "yours"), **problems(503)}},
        },
        "/v1/webhooks/{id}": {
            "get": {"summary": "One of your webhook endpoints", "parameters": [_WEBHOOK_ID],
                    "responses": {"200": json_response(webhooks.WebhookOut, "the endpoint"),
                                  **problems(404, 503)}},
            "delete": {"summary": "Delete one of your webhook endpoints (and its delivery log)",
                       "parameters": [_WEBHOOK_ID],
                       "responses": {"204": {"description": "deleted"}, **problems(404, 503)}},
        },
        "/v1/webhooks/{id}/rotate-secret": {"post": {
            "summary": "A new signing secret; the previous one keeps signing beside it for 24 h",
            "parameters": [_WEBHOOK_ID],
            "responses": {"200": json_response(webhooks.CreatedWebhookOut, "the new secret, shown once"),
                          **problems(404, 503)}}},
        "/v1/webhooks/{id}/deliveries": {"get": {
            "summary": "Deliveries to the endpoint, newest first, each with its attempts",
            "parameters": [_WEBHOOK_ID, *query_parameters(Page, defs)],
            "responses": {"200": json_response(webhooks.DeliveryPage, "a page"),
                          **problems(400, 404, 422, 503)}}},
        "/v1/webhooks/{id}/deliveries/{delivery_id}/retry": {"post": {
            "summary": "Send a delivery again now (the retry schedule starts over)",
            "parameters": [_WEBHOOK_ID, {"name": "delivery_id", "in": "path", "required": True,
                                         "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"}}],
            "responses": {"202": json_response(webhooks.RetriedOut, "pending again"),
                          **problems(404, 409, 503)}}},
    }
