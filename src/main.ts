/** Process entry of `npm start` / `npm run start:prod`: the service, configured from the environment. */
import { loadConfig } from './config.js';
import { exitOnStartupError, serve } from './server.js';

(async () => serve(loadConfig()))().catch(exitOnStartupError);
