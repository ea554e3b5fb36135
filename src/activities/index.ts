/**
 * The runbooks' activities, built once per worker from injected clients.
 */
import type { Config } from '../config';

/** Builds every activity from config (Azure clients, chat transport), once per worker. */
export async function createActivitiesFromConfig(config: Config): Promise<object> {
  void config;
  return {};
}
