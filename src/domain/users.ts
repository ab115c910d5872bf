import { AppError } from '../errors.js';
import { newId } from '../ids.js';
import { hashPassword } from '../security/passwords.js';
import type { DomainContext } from './context.js';

export const ROLES = ['owner', 'admin', 'agent', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export interface StaffUser {
  id: string;
  company_id: string;
  email: string;
  name: string | null;
  role: Role;
  created_at: number;
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}\.[^\s@]{1,63}$/;

export function normaliseEmail(email: string): string | null {
  const e = email.trim().toLowerCase();
  return e.length <= 320 && EMAIL.test(e) ? e : null;
}

export function checkPassword(password: string): string | null {
  if (password.length < 10) return 'password must be at least 10 characters';
  if (password.length > 200) return 'password must be at most 200 characters';
  return null;
}

export async function createUser(
  ctx: DomainContext,
  input: { companyId: string; email: string; password: string; role: Role; name?: string | null },
): Promise<StaffUser> {
  const email = normaliseEmail(input.email);
  if (!email) throw new AppError('validation_failed', 'email is not a valid address');
  const pwError = checkPassword(input.password);
  if (pwError) throw new AppError('validation_failed', pwError);
  if (!ROLES.includes(input.role)) throw new AppError('validation_failed', `role must be one of ${ROLES.join(', ')}`);
  const user: StaffUser = {
    id: newId('usr'),
    company_id: input.companyId,
    email,
    name: input.name ?? null,
    role: input.role,
    created_at: ctx.clock.now(),
  };
  const password_hash = await hashPassword(input.password);
  try {
    await ctx.store.db
      .insertInto('users')
      .values({ ...user, password_hash, failed_logins: 0, locked_until: null })
      .execute();
  } catch (err) {
    if (ctx.store.profile.isUniqueViolation(err))
      throw new AppError('already_exists', `a user with email ${email} exists`);
    throw err;
  }
  return user;
}
