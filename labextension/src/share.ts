/**
 * The Share dialog's logic without the DOM: what a choice in the form asks of the server, how a
 * share is named, which shares belong to a path or a feed and which were made with the caller.
 */

import { ILink, IShare, IShareRequest } from './api';

export type ShareKind = 'user' | 'group' | 'public' | 'link';

/** What is shared: a library path, or a feed (its graph of jobs and their outputs). */
export type ShareSubject = string | { feedId: number; name: string };

/** The request's fields naming the subject: `{path}` or `{feed_id}`. */
export function subjectFields(subject: ShareSubject): { path: string } | { feed_id: number } {
  return typeof subject === 'string' ? { path: subject } : { feed_id: subject.feedId };
}

/** The subject in words, for titles and messages: the path, or `feed "name" (#id)`. */
export function subjectName(subject: ShareSubject): string {
  return typeof subject === 'string' ? subject : `feed "${subject.name || subject.feedId}" (#${subject.feedId})`;
}

function isOf(item: { path: string | null; feed_id: number | null }, subject: ShareSubject): boolean {
  return typeof subject === 'string' ? item.path === subject : item.feed_id === subject.feedId;
}

/** The link lifetimes offered (the server allows at most 30 days). */
export const EXPIRY_CHOICES: [string, number][] = [
  ['1 hour', 3600],
  ['1 day', 86400],
  ['7 days', 7 * 86400],
  ['30 days', 30 * 86400]
];

/** The request a filled-in form makes, or why it cannot be sent (a message for the user). */
export function shareRequest(
  subject: ShareSubject,
  kind: Exclude<ShareKind, 'link'>,
  who: string,
  permission: 'read' | 'write'
): IShareRequest | string {
  const name = who.trim();
  const what = subjectFields(subject);
  if (kind === 'public') {
    if (permission === 'write') {
      return 'public shares are read-only: choose "read"';
    }
    return { ...what, public: true, permission };
  }
  if (!name) {
    return kind === 'user' ? 'give the user name to share with' : 'give the group name to share with';
  }
  return kind === 'user' ? { ...what, user: name, permission } : { ...what, group: name, permission };
}

/** Who a share is for, in words: "user bob", "group radiology", "everyone". */
export function shareTarget(s: IShare): string {
  if (s.public) {
    return 'everyone';
  }
  if (s.user) {
    return `user ${s.user}`;
  }
  return `group ${s.group ?? '?'}`;
}

/** The shares of exactly this path (or this feed), oldest first. */
export function sharesOf(shares: IShare[], subject: ShareSubject): IShare[] {
  return shares.filter(s => isOf(s, subject)).sort((a, b) => a.id - b.id);
}

/** The live (not revoked, not expired) links to exactly this path (or this feed). */
export function linksOf(links: ILink[], subject: ShareSubject, now: Date = new Date()): ILink[] {
  return links
    .filter(l => isOf(l, subject) && !l.revoked && new Date(l.expires_at).getTime() > now.getTime())
    .sort((a, b) => a.id - b.id);
}

/** Paths others shared with the caller (directly, through a group or with everyone), each once. */
export function receivedShares(shares: IShare[], me: string): IShare[] {
  const seen = new Map<string, IShare>();
  for (const s of shares) {
    if (!s.path || s.created_by === me) {
      continue;
    }
    const had = seen.get(s.path);
    if (!had || (had.permission === 'read' && s.permission === 'write')) {
      seen.set(s.path, s);
    }
  }
  return [...seen.values()].sort((a, b) => (a.path! < b.path! ? -1 : a.path! > b.path! ? 1 : 0));
}

/** The link as one can paste it anywhere: the server gives it relative to its own root. */
export function absoluteLink(url: string, baseUrl: string): string {
  return new URL(url, baseUrl).href;
}
