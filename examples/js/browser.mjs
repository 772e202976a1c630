// The person's side of the sign-in, in a real headless Chromium driven
// through the DevTools protocol (puppeteer-core), with a virtual passkey
// authenticator (WebAuthn.addVirtualAuthenticator): they sign up with a
// passkey, add their email address, sign out, and when the company sends
// them to authorize, sign back in with the passkey and share the email.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import puppeteer from 'puppeteer-core'

const STEP_MS = 20_000
const HANDLE = process.env.APIOME_BROWSER_PERSON ?? 'grace'

// What the person is doing, on standard error (a failure says where).
const step = (what) => console.error(`person: ${what}`)

export async function personSignsIn(authorizationUrl, redirectUri) {
  const profile = mkdtempSync(join(tmpdir(), 'apiome-chromium-'))
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run',
      `--user-data-dir=${profile}`],
  })
  try {
    const page = await browser.newPage()
    page.setDefaultTimeout(STEP_MS)
    const devtools = await page.createCDPSession()
    await devtools.send('WebAuthn.enable')
    await devtools.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
        hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
      },
    })
    const origin = new URL(authorizationUrl).origin

    // Sign up with a passkey; the recovery codes are shown once.
    step('sign up with a passkey')
    await page.goto(`${origin}/signup`)
    await page.type('#pk-handle', HANDLE)
    await page.type('#pk-name', 'virtual authenticator')
    await page.click('#passkey-signup button[type=submit]')
    await page.waitForSelector('#recovery-code-list li')

    // Add an email address (it lands in "somewhat private": asked for).
    step('add an email address')
    await page.goto(`${origin}/dashboard`)
    await page.type('#new-key', 'email')
    await page.type('#new-value', `${HANDLE}@example.org`)
    await Promise.all([page.waitForNavigation(), page.click('#add-attribute button[type=submit]')])
    await page.waitForSelector('.region-semi_private li[data-key=email]')

    // Sign out, so the company's link asks for a sign-in.
    step('sign out')
    await Promise.all([page.waitForNavigation(), page.click("form[action='/signout'] button")])

    // The company's link: sign in with the passkey, then consent.
    step('sign in with the passkey and consent')
    await page.goto(authorizationUrl)
    await page.click('#passkey-signin')
    await page.waitForSelector('button[name=decision][value=approve]')
    const landed = page.waitForRequest((r) => r.url().startsWith(redirectUri))
    await page.click('button[name=decision][value=approve]')
    return new URL((await landed).url())
  } catch (error) {
    // Say where the person was stuck, and what the page showed.
    const [page] = (await browser.pages()).slice(-1)
    console.error(`person: stuck at ${page.url()}:\n${await page.evaluate(() => document.body?.innerText)}`)
    throw error
  } finally {
    await browser.close()
    rmSync(profile, { recursive: true, force: true })
  }
}
