import { InvalidArgumentError, Option } from 'commander';
import { checkCompanyCode } from '../domain/companies.js';
import { PLANS } from '../domain/plans.js';
import { SCOPES } from '../domain/api-keys.js';
import {
  MIN_RETENTION_DAYS,
  MIN_RETENTION_MINUTES,
  OPERATOR_MAX_RETENTION_DAYS,
  OPERATOR_MAX_RETENTION_MINUTES,
} from '../domain/retention.js';
import { checkPassword, normaliseEmail, ROLES } from '../domain/users.js';

/**
 * Every CLI option is parsed and checked here, once, at the boundary. A bad value makes commander print
 * "option '--x <x>' argument 'v' is invalid. <why>" and the CLI exits with the usage code.
 */

function companyCode(value: string): string {
  const problem = checkCompanyCode(value);
  if (problem) throw new InvalidArgumentError(problem + '.');
  return value;
}

function email(value: string): string {
  const normalised = normaliseEmail(value);
  if (!normalised) throw new InvalidArgumentError('not a valid email address.');
  return normalised;
}

function password(value: string): string {
  const problem = checkPassword(value);
  if (problem) throw new InvalidArgumentError(problem + '.');
  return value;
}

function text(max: number) {
  return (value: string): string => {
    const trimmed = value.trim();
    if (!trimmed) throw new InvalidArgumentError('must not be empty.');
    if (trimmed.length > max) throw new InvalidArgumentError(`must be at most ${max} characters.`);
    return trimmed;
  };
}

function wholeNumber(unit: string, min: number, max: number) {
  return (value: string): number => {
    const n = /^\d+$/.test(value) ? Number(value) : NaN;
    if (!(n >= min && n <= max))
      throw new InvalidArgumentError(`must be a whole number of ${unit} from ${min} to ${max}.`);
    return n;
  };
}

const required = (option: Option) => option.makeOptionMandatory();

export const options = {
  /** The code of an existing company, e.g. --company VOLT. */
  company: () => required(new Option('--company <code>', 'company code, e.g. VOLT').argParser(companyCode)),
  code: () => required(new Option('--code <code>', 'company code: 2–8 uppercase letters').argParser(companyCode)),
  companyName: () => required(new Option('--name <name>', 'company name').argParser(text(200))),
  plan: () => required(new Option('--plan <plan>', 'plan').choices(PLANS)),
  /** --days or --minutes, exactly one (`set-retention` checks that one is given). */
  retentionDays: () =>
    new Option('--days <days>', "days of history to keep (any plan's window may be exceeded)")
      .argParser(wholeNumber('days', MIN_RETENTION_DAYS, OPERATOR_MAX_RETENTION_DAYS))
      .conflicts('minutes'),
  retentionMinutes: () =>
    new Option('--minutes <minutes>', 'minutes of history to keep instead of days (a window shorter than a day)')
      .argParser(wholeNumber('minutes', MIN_RETENTION_MINUTES, OPERATOR_MAX_RETENTION_MINUTES))
      .conflicts('days'),
  email: () => required(new Option('--email <email>', 'email address').argParser(email)),
  password: () => required(new Option('--password <password>', 'password, at least 10 characters').argParser(password)),
  role: () => required(new Option('--role <role>', 'staff role').choices(ROLES)),
  keyName: () => required(new Option('--name <name>', 'a label for the key, e.g. "CRM sync"').argParser(text(100))),
  scope: () => new Option('--scope <scope>', 'key scope').choices(SCOPES).default('read'),
  keyId: () => required(new Option('--id <id>', 'the API key id (key_…), from `apikey list`').argParser(text(100))),
  personName: () => new Option('--name <name>', 'display name').argParser(text(200)),
  json: () => new Option('--json', 'print the result as JSON'),
};
