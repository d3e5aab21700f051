/** GUILD_ROLE_CREATE / UPDATE / DELETE. Roles live in `guilds.roles`. */
import { objectAt, snowflakeAt } from '../../discord/columns.js';
import type { EventMapper } from './context.js';

const putRole: EventMapper = (d, { path }) => {
  const guildId = snowflakeAt(d.guild_id, `${path}.guild_id`);
  const role = objectAt(d.role, `${path}.role`);
  snowflakeAt(role.id, `${path}.role.id`);
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
