// Organizations, their members, invitations and history (docs/organizations.md).
import { createRoute, z } from "@hono/zod-openapi";
import { requireUser } from "../auth/guards";
import { guarded } from "../auth/org-guard";
import { ORG_ROLES } from "../db/schema";
import { errors, json, router } from "../lib/openapi";
import { acceptInvitation, invite, listInvitations, previewInvitation, revokeInvitation } from "../services/invitations";
import { changeRole, createOrg, getOrg, listMembers, myOrgs, orgAudit, removeMember, renameOrg } from "../services/organizations";

const Name = z.string().trim().min(1).max(200);
const Role = z.enum(ORG_ROLES).openapi({ description: "owner, admin, event_manager, box_office, door, viewer (docs/organizations.md)" });
const EventIds = z.array(z.string().uuid()).max(200).nullable().optional().openapi({ description: "event_manager only: the events they manage; null or absent: all" });

const Org = z.object({ id: z.string().uuid(), name: z.string(), personal: z.boolean(), createdAt: z.string() }).openapi("Organization");
const MyOrg = Org.extend({ role: Role, eventIds: z.array(z.string()).nullable() }).openapi("MyOrganization");
const Member = z
  .object({ userId: z.string().uuid(), name: z.string(), email: z.string(), role: Role, eventIds: z.array(z.string()).nullable(), since: z.string() })
  .openapi("OrganizationMember");
const Invitation = z
  .object({
    id: z.string().uuid(),
    orgId: z.string().uuid(),
    email: z.string(),
    role: Role,
    eventIds: z.array(z.string()).nullable(),
    status: z.enum(["pending", "accepted", "revoked", "expired"]),
    expiresAt: z.string(),
    createdAt: z.string(),
  })
  .openapi("OrganizationInvitation");
const InvitationLink = z.object({
  token: z
    .string({ error: "Send the token of the invitation link (the ?invite= of the email); invitations are accepted only with their link" })
    .min(1)
    .max(4096)
    .openapi({ description: "The `invite` parameter of the emailed link" }),
});
const InvitationPreview = z
  .object({
    orgId: z.string().uuid(),
    orgName: z.string(),
    email: z.string(),
    role: Role,
    eventIds: z.array(z.string()).nullable(),
    expiresAt: z.string(),
    forYou: z.boolean().openapi({ description: "The signed-in account has the invited email (else accepting answers 403 INVITATION_WRONG_ACCOUNT)" }),
  })
  .openapi("InvitationPreview");
const AuditEntry = z.object({ id: z.number().int(), action: z.string(), actorId: z.string().nullable(), detail: z.unknown(), at: z.string() }).openapi("OrganizationAuditEntry");

const OrgId = z.object({ id: z.string().uuid().openapi({ param: { name: "id", in: "path" } }) });
const MemberParam = OrgId.extend({ userId: z.string().uuid().openapi({ param: { name: "userId", in: "path" } }) });
const InvitationParam = OrgId.extend({ invitationId: z.string().uuid().openapi({ param: { name: "invitationId", in: "path" } }) });
const security = [{ bearer: [] }];
const body = <T extends z.ZodType>(schema: T) => ({ body: { content: { "application/json": { schema } }, required: true } });

export const orgRoutes = router()
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/orgs",
      tags: ["organizations"],
      summary: "My organizations, with my role in each",
      description: "Invitations are not listed here: an account's email is not verified, so an invitation is seen and accepted only through its emailed link (POST /v1/invitations/preview, /accept).",
      security,
      middleware: [requireUser] as const,
      responses: { 200: json(z.object({ data: z.array(MyOrg) })), ...errors(401) },
    }),
    async (c) => {
      c.header("Cache-Control", "private, no-store");
      return c.json({ data: await myOrgs(c.var.db(), c.var.user.id) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/orgs",
      tags: ["organizations"],
      summary: "Create an organization (organizers and admins); the caller becomes its owner",
      security,
      middleware: [requireUser] as const,
      request: body(z.object({ name: Name })),
      responses: { 201: json(MyOrg, "Created"), ...errors(400, 401, 403) },
    }),
    async (c) => c.json({ ...(await createOrg(c.var.db(), c.var.user, c.req.valid("json").name)), eventIds: null }, 201),
  )
  .openapi(
    createRoute({ method: "get", path: "/v1/orgs/{id}", tags: ["organizations"], security, ...guarded("org.read", "org"), request: { params: OrgId }, responses: { 200: json(Org), ...errors(401, 403, 404) } }),
    async (c) => c.json(await getOrg(c.var.db(), c.req.valid("param").id), 200),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/v1/orgs/{id}",
      tags: ["organizations"],
      security,
      ...guarded("org.update", "org"),
      request: { params: OrgId, ...body(z.object({ name: Name })) },
      responses: { 200: json(Org), ...errors(400, 401, 403, 404) },
    }),
    async (c) => c.json(await renameOrg(c.var.db(), c.req.valid("param").id, c.req.valid("json").name), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/orgs/{id}/members",
      tags: ["organizations"],
      security,
      ...guarded("org.read", "org"),
      request: { params: OrgId },
      responses: { 200: json(z.object({ data: z.array(Member) })), ...errors(401, 403, 404) },
    }),
    async (c) => c.json({ data: await listMembers(c.var.db(), c.req.valid("param").id) }, 200),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/v1/orgs/{id}/members/{userId}",
      tags: ["organizations"],
      summary: "Change a member's role; it applies from the member's next request",
      description: "Only an owner may make, demote or touch an owner; the last owner cannot be demoted (409 LAST_OWNER).",
      security,
      ...guarded("members.manage", "org"),
      request: { params: MemberParam, ...body(z.object({ role: Role, eventIds: EventIds })) },
      responses: { 200: json(Member), ...errors(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const { id, userId } = c.req.valid("param");
      const b = c.req.valid("json");
      return c.json(await changeRole(c.var.db(), c.var.user, id, userId, b.role, b.eventIds), 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/v1/orgs/{id}/members/{userId}",
      tags: ["organizations"],
      summary: "Remove a member: their access ends on their next request and the scanners they created stop working",
      security,
      ...guarded("members.manage", "org"),
      request: { params: MemberParam },
      responses: { 204: { description: "Removed" }, ...errors(401, 403, 404, 409) },
    }),
    async (c) => {
      const { id, userId } = c.req.valid("param");
      await removeMember(c.var.db(), c.var.user, id, userId);
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/orgs/{id}/leave",
      tags: ["organizations"],
      summary: "Leave the organization (not its last owner: 409 LAST_OWNER)",
      security,
      ...guarded("org.read", "org"),
      request: { params: OrgId },
      responses: { 204: { description: "Left" }, ...errors(401, 403, 404, 409) },
    }),
    async (c) => {
      await removeMember(c.var.db(), c.var.user, c.req.valid("param").id, c.var.user.id);
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/orgs/{id}/invitations",
      tags: ["organizations"],
      security,
      ...guarded("invitations.manage", "org"),
      request: { params: OrgId },
      responses: { 200: json(z.object({ data: z.array(Invitation) })), ...errors(401, 403, 404) },
    }),
    async (c) => c.json({ data: await listInvitations(c.var.db(), c.req.valid("param").id) }, 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/orgs/{id}/invitations",
      tags: ["organizations"],
      summary: "Invite by email: a signed, single-use link valid 7 days, emailed through the notifications queue",
      description: "The answer carries the link's token once (for handing it over another way); Postgres keeps only its hash.",
      security,
      ...guarded("invitations.manage", "org"),
      request: { params: OrgId, ...body(z.object({ email: z.string().trim().email().max(320), role: Role, eventIds: EventIds })) },
      responses: { 201: json(Invitation.extend({ token: z.string() }), "Invited"), ...errors(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const origin = new URL(c.req.url).origin;
      return c.json(await invite(c.env, c.var.config, c.var.db(), c.var.user, c.req.valid("param").id, c.req.valid("json"), origin), 201);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/v1/orgs/{id}/invitations/{invitationId}",
      tags: ["organizations"],
      summary: "Revoke an open invitation: its link stops working",
      security,
      ...guarded("invitations.manage", "org"),
      request: { params: InvitationParam },
      responses: { 204: { description: "Revoked" }, ...errors(401, 403, 404) },
    }),
    async (c) => {
      const { id, invitationId } = c.req.valid("param");
      await revokeInvitation(c.var.db(), c.var.user, id, invitationId);
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/invitations/preview",
      tags: ["organizations"],
      summary: "What an invitation link invites to (the token goes in the body, never in a URL)",
      description: "Answers as accepting would for a link that cannot be used: invalid 400, used 409, revoked or expired 410.",
      security,
      middleware: [requireUser] as const,
      request: body(InvitationLink),
      responses: { 200: json(InvitationPreview), ...errors(400, 401, 409, 410) },
    }),
    async (c) => {
      c.header("Cache-Control", "private, no-store");
      return c.json(await previewInvitation(c.env, c.var.config, c.var.db(), c.var.user, c.req.valid("json").token), 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/invitations/accept",
      tags: ["organizations"],
      summary: "Accept an invitation with its link's token",
      description:
        "The token is the proof (it went to the invited mailbox); the signed-in account's email must also be the invited one (403 INVITATION_WRONG_ACCOUNT). Without a token: 400. Used: 409 INVITATION_USED; revoked or expired: 410. Two accepts at once: one wins.",
      security,
      middleware: [requireUser] as const,
      request: body(InvitationLink),
      responses: { 200: json(z.object({ orgId: z.string().uuid(), role: Role })), ...errors(400, 401, 403, 409, 410) },
    }),
    async (c) => c.json(await acceptInvitation(c.env, c.var.config, c.var.db(), c.var.user, c.req.valid("json").token), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/orgs/{id}/audit",
      tags: ["organizations"],
      summary: "Who invited, accepted, changed a role, removed whom; newest first",
      security,
      ...guarded("audit.read", "org"),
      request: { params: OrgId, query: z.object({ limit: z.coerce.number().int().min(1).max(100).default(50), before: z.coerce.number().int().optional() }) },
      responses: { 200: json(z.object({ data: z.array(AuditEntry), nextBefore: z.number().int().nullable() })), ...errors(401, 403, 404) },
    }),
    async (c) => {
      const q = c.req.valid("query");
      return c.json(await orgAudit(c.var.db(), c.req.valid("param").id, q.limit, q.before), 200);
    },
  );
