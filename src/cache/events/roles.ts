/** GUILD_ROLE_CREATE / UPDATE / DELETE. Roles live in `guilds.roles`. */
import { checkJsonValue, role as roleShape } from '../../discord/json-shapes.js';
import { objectAt, snowflakeAt } from '../../discord/columns.js';
import type { EventMapper } from './context.js';

/** The role goes into `guilds.roles` as sent: checked like that column (shape, nesting, Unicode). */
const putRole: EventMapper = (d, { path }) => {
  const guildId = snowflakeAt(d.guild_id, `${path}.guild_id`);
  const role = objectAt(d.role, `${path}.role`);
  snowflakeAt(role.id, `${path}.role.id`);
  roleShape(role, `${path}.role`);
  checkJsonValue(role, `${path}.role`);
  return [{ kind: 'putRole', guildId, role }];
};
export const GUILD_ROLE_CREATE = putRole;
export const GUILD_ROLE_UPDATE = putRole;

export const GUILD_ROLE_DELETE: EventMapper = (d, { path }) => [
  {
    kind: 'removeRole',
    guildId: snowflakeAt(d.guild_id, `${path}.guild_id`),
    roleId: snowflakeAt(d.role_id, `${path}.role_id`),
  },
];
