/** Activities that only talk to chat; they are not Azure boundaries. */
export const CHAT_ACTIVITIES: readonly string[] = ['postRunCard', 'updateRunCard', 'sendChatText'];
